//! The shape an answer must keep before it is parsed into a tree: bounded nesting, elements, attributes and
//! namespace declarations, checked in one linear pass.
//!
//! Why a pass of its own: `roxmltree` copies every in-scope namespace binding into each element that
//! declares one, and checks each copy against the element's own declarations, and it checks every
//! attribute against the element's earlier ones. A document that declares a new `xmlns:pN` on every
//! nested element therefore costs time cubic in its length (35 KB took half a second, 152 KB 27 s on the
//! async runtime, stopping recording for every camera), and one element with tens of thousands of
//! attributes costs quadratic time. No real camera answer comes near the caps below (a gSOAP envelope
//! declares 30-60 namespaces once, on the envelope; answers nest 10-20 deep), so such a document is
//! refused before `roxmltree` sees it. With the caps, parsing costs at most a small constant times
//! [`MAX_BINDINGS_COPIED`] + the input's length.
//!
//! The pass uses `quick-xml`'s tokenizer without namespace resolution and without its duplicate-attribute
//! check, both linear; for each element it keeps the count of distinct prefixes bound in scope, exactly
//! as `roxmltree` would resolve them.

use crate::Error;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::HashMap;

/// The deepest nesting of elements accepted.
pub const MAX_DEPTH: usize = 64;
/// The most elements one answer may have.
pub const MAX_ELEMENTS: usize = 65_536;
/// The most attributes (namespace declarations included) on one element.
pub const MAX_ATTRIBUTES: usize = 128;
/// The most namespace declarations in one answer.
pub const MAX_DECLARATIONS: usize = 4_096;
/// The most distinct namespace prefixes in scope at any element.
pub const MAX_IN_SCOPE: usize = 128;
/// The most namespace bindings, summed over every element that declares one, that a parser copies (each
/// such element gets a copy of all bindings in scope there).
pub const MAX_BINDINGS_COPIED: usize = 262_144;

/// Counts while walking; `check` fails on the first cap passed.
#[derive(Default)]
struct Walk {
    /// Per open element, the prefixes it declared (`""` for the default namespace).
    stack: Vec<Vec<String>>,
    /// How many open elements bind each prefix.
    in_scope: HashMap<String, u32>,
    elements: usize,
    declarations: usize,
    copied: usize,
}

fn refuse(what: String) -> Error {
    Error::Protocol(format!("refused XML answer: {what}"))
}

impl Walk {
    fn open(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), Error> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(refuse(format!("more than {MAX_ELEMENTS} elements")));
        }
        if self.stack.len() + 1 > MAX_DEPTH {
            return Err(refuse(format!("elements nested more than {MAX_DEPTH} deep")));
        }
        let mut declared = Vec::new();
        let mut attributes = 0usize;
        let mut attrs = e.attributes();
        attrs.with_checks(false);
        for a in attrs {
            let a = a.map_err(|e| Error::Protocol(format!("malformed XML: {e}")))?;
            attributes += 1;
            if attributes > MAX_ATTRIBUTES {
                return Err(refuse(format!("more than {MAX_ATTRIBUTES} attributes on one element")));
            }
            let key = a.key.into_inner();
            let prefix = match key.strip_prefix("xmlns") {
                Some("") => "",
                Some(rest) => match rest.strip_prefix(':') {
                    Some(p) => p,
                    None => continue, // `xmlnsfoo`: an ordinary attribute
                },
                None => continue,
            };
            declared.push(prefix.to_owned());
        }
        if !declared.is_empty() {
            self.declarations += declared.len();
            if self.declarations > MAX_DECLARATIONS {
                return Err(refuse(format!("more than {MAX_DECLARATIONS} namespace declarations")));
            }
            for p in &declared {
                *self.in_scope.entry(p.clone()).or_insert(0) += 1;
            }
            if self.in_scope.len() > MAX_IN_SCOPE {
                return Err(refuse(format!("more than {MAX_IN_SCOPE} namespace prefixes in scope")));
            }
            self.copied += self.in_scope.len();
            if self.copied > MAX_BINDINGS_COPIED {
                return Err(refuse(format!(
                    "too many namespace declarations below other ones (over {MAX_BINDINGS_COPIED} bindings)"
                )));
            }
        }
        self.stack.push(declared);
        if empty {
            self.close();
        }
        Ok(())
    }

    fn close(&mut self) {
        let Some(declared) = self.stack.pop() else { return };
        for p in declared {
            if let Some(n) = self.in_scope.get_mut(&p) {
                *n -= 1;
                if *n == 0 {
                    self.in_scope.remove(&p);
                }
            }
        }
    }
}

/// Fails when `text` is not well-formed enough to walk or passes one of the caps above.
pub fn check(text: &str) -> Result<(), Error> {
    let mut reader = Reader::from_str(text);
    let mut walk = Walk::default();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => walk.open(&e, false)?,
            Ok(Event::Empty(e)) => walk.open(&e, true)?,
            Ok(Event::End(_)) => walk.close(),
            Ok(Event::DocType(_)) => return Err(Error::Protocol("malformed XML: a DTD is not allowed".into())),
            Ok(Event::Eof) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(Error::Protocol(format!("malformed XML: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// `n` nested elements, each declaring a namespace prefix of its own: the shape that took 27 s at
    /// 152 KB before the caps.
    fn nested_declarations(n: usize) -> String {
        let mut s = String::from(r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>"#);
        for i in 0..n {
            s.push_str(&format!(r#"<p{i}:e xmlns:p{i}="urn:x:{i}">"#));
        }
        for i in (0..n).rev() {
            s.push_str(&format!("</p{i}:e>"));
        }
        s.push_str("</s:Body></s:Envelope>");
        s
    }

    fn protocol_text(r: Result<(), Error>) -> String {
        match r {
            Err(Error::Protocol(m)) => m,
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[test]
    fn the_nested_declaration_bomb_is_refused_at_once() {
        let doc = nested_declarations(4_500);
        assert!(doc.len() > 150_000, "{}", doc.len());
        let t = Instant::now();
        let r = crate::xml::parse(&doc);
        let took = t.elapsed();
        assert!(took < Duration::from_millis(100), "took {took:?}");
        let Err(Error::Protocol(m)) = r else { panic!("accepted: {:?}", r.map(|_| ())) };
        assert!(m.starts_with("refused XML answer: elements nested more than 64 deep"), "{m}");
    }

    #[test]
    fn each_cap_refuses_with_its_reason() {
        // Depth.
        assert!(check(&nested_declarations(MAX_DEPTH - 2)).is_ok());
        assert!(protocol_text(check(&nested_declarations(MAX_DEPTH - 1))).contains("nested more than 64 deep"));
        // Attributes on one element.
        let attrs = |n: usize| format!("<a {}/>", (0..n).map(|i| format!("x{i}=\"1\"")).collect::<Vec<_>>().join(" "));
        assert!(check(&attrs(MAX_ATTRIBUTES)).is_ok());
        assert!(protocol_text(check(&attrs(MAX_ATTRIBUTES + 1))).contains("more than 128 attributes"));
        // Prefixes in scope: declared on ancestors, each one below the other.
        let chain = |per: usize, levels: usize| {
            let mut s = String::new();
            for l in 0..levels {
                let decls: Vec<String> = (0..per).map(|i| format!("xmlns:l{l}p{i}=\"u\"")).collect();
                s.push_str(&format!("<e {}>", decls.join(" ")));
            }
            s.push_str(&"</e>".repeat(levels));
            s
        };
        assert!(check(&chain(32, 4)).is_ok());
        assert!(protocol_text(check(&chain(32, 5))).contains("more than 128 namespace prefixes in scope"));
        // The same prefix redeclared below is one prefix in scope, as a parser resolves it.
        let redeclared = format!("{}{}", "<e xmlns=\"u\" xmlns:a=\"v\">".repeat(60), "</e>".repeat(60));
        assert!(check(&redeclared).is_ok());
        // Declarations in all.
        let siblings = |n: usize| format!("<r>{}</r>", "<e xmlns:a=\"u\"/>".repeat(n));
        assert!(check(&siblings(MAX_DECLARATIONS)).is_ok());
        assert!(protocol_text(check(&siblings(MAX_DECLARATIONS + 1))).contains("more than 4096 namespace declarations"));
        // Elements.
        let many = |n: usize| format!("<r>{}</r>", "<e/>".repeat(n));
        assert!(check(&many(MAX_ELEMENTS - 1)).is_ok());
        assert!(protocol_text(check(&many(MAX_ELEMENTS))).contains("more than 65536 elements"));
        // Bindings copied: many declaring elements under an envelope that binds many prefixes.
        let root: Vec<String> = (0..120).map(|i| format!("xmlns:r{i}=\"u\"")).collect();
        let copies = format!("<r {}>{}</r>", root.join(" "), "<e xmlns:a=\"u\"/>".repeat(2_200));
        assert!(protocol_text(check(&copies)).contains("bindings"), "121 × 2200 copies");
        // Not XML, or a DTD.
        assert!(protocol_text(check("<a><b></a>")).starts_with("malformed XML"));
        assert!(protocol_text(check(r#"<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#)).contains("DTD"));
    }

    /// The slowest documents the caps let through, timed (run with `--ignored --nocapture`, in release
    /// for the daemon's figure).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn worst_case_within_the_caps() {
        let time = |name: &str, doc: &str| {
            let t = Instant::now();
            let ok = crate::xml::parse(doc).is_ok();
            println!("{name}: {} bytes, {:?}, parsed: {ok}", doc.len(), t.elapsed());
        };
        let root: Vec<String> = (0..127).map(|i| format!("xmlns:r{i}=\"u\"")).collect();
        let n = MAX_BINDINGS_COPIED / 128 - 1;
        time("copies at the cap", &format!("<r {}>{}</r>", root.join(" "), "<e xmlns:a=\"u\"/>".repeat(n)));
        let attrs: Vec<String> = (0..MAX_ATTRIBUTES).map(|i| format!("a{i}=\"\"")).collect();
        let e = format!("<e {}/>", attrs.join(" "));
        time("attributes at the cap", &format!("<r>{}</r>", e.repeat((crate::xml::MAX_BODY - 10) / e.len())));
        let lookups = format!("<r {}>{}</r>", root.join(" "), "<r0:e/>".repeat(MAX_ELEMENTS - 2));
        time("prefix lookups at the cap", &lookups);
        time("nested bomb, 150 KB", &nested_declarations(4_500));
    }
}
