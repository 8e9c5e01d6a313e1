// dom.js — the UI's one DOM builder: h() for HTML elements, svg() for SVG ones, both node by node. Every
// module builds its DOM with these (pages also get h as ctx.h), so the rules below hold everywhere:
// - text is always text: a string child becomes a text node, never markup (the CSP's Trusted Types make
//   every HTML-from-a-string sink throw anyway);
// - styles go through the CSSOM (el.style), never a style="" attribute, which the CSP's style-src refuses.
// No imports: the player and the timeline use it too, and they know nothing about pages.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Set as properties even from strings: what a control shows is its property, not its attribute.
const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'hidden']);

/**
 * `h('div', {class: 'x', onclick: fn, dataset: {testid: 'y'}, 'data-err': 'z'}, 'text', child, [more])`:
 * builds an HTML element.
 * - `on...` functions become listeners; `dataset` is merged into el.dataset; `style` is an object (merged
 *   into el.style) or a string (el.style.cssText); `class` is the class attribute.
 * - `value`, `checked`, `selected`, `disabled`, `hidden`, and any other non-string value the element has a
 *   property for (`required: true`, `tabIndex: 0`, `muted: true`), are set as properties; everything else
 *   is an attribute (`true` → present and empty).
 * - `false`/`null`/`undefined` attributes and children are skipped; arrays of children are flattened.
 * Children go in before the attributes are set, so `h('select', {value}, options)` selects `value`.
 */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** `svg('circle', {cx: 5, r: 2, class: 'x', onclick: fn})`: an SVG element; attributes are always attributes
 * (an SVG element's properties are read-only animated values), listeners and children as in h(). */
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  const isSvg = el.namespaceURI === SVG_NS;
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'style') el.style.cssText = String(v);
    else if (isSvg || k === 'class') el.setAttribute(k, v === true ? '' : String(v));
    else if (PROPS.has(k) || (k in el && typeof v !== 'string' && k !== 'list')) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return el;
}
