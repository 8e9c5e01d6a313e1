//! Reading SOAP answers without caring about namespace prefixes.
//!
//! Cameras bind the same namespaces to different prefixes (`tt:`, `ns2:`, `onvif:`, none at all), and
//! some mix SOAP 1.1 and 1.2 envelopes, so everything here matches elements by their *local* name and
//! leaves the namespace alone. Answers are parsed with `roxmltree` (no DTDs, a node limit), after a size
//! check and a linear pass over their shape ([`limits`]), so a broken or hostile answer is an error, never
//! a panic, a memory blow-up or minutes of CPU.
//!
//! Why [`off_runtime`]: even bounded, reading a MiB of XML is CPU work measured in milliseconds, and it
//! must never run on the async runtime that also serves HTTP and drives recording. Every answer from the
//! network (SOAP answers, WS-Discovery datagrams) is read on tokio's blocking pool under a time budget
//! ([`READ_BUDGET`]); a camera whose answer is refused or too slow gets an error, nobody else notices.

pub mod limits;

use crate::Error;
use roxmltree::{Document, Node, ParsingOptions};
use std::time::Duration;

/// The largest SOAP answer or datagram read (a camera's GetProfiles is a few tens of KiB).
pub const MAX_BODY: usize = 1 << 20;
/// The most XML nodes one answer may have.
const MAX_NODES: u32 = 200_000;
/// The longest reading one answer may take off the runtime before the caller gets an error (within the
/// [`limits`] a MiB reads in tens of milliseconds; this only guards against the unforeseen).
pub const READ_BUDGET: Duration = Duration::from_secs(2);

/// Parses an answer; too large, malformed or pathologically shaped text ([`limits`]) is a protocol error.
/// Takes time linear in `text`; call it off the async runtime ([`off_runtime`]).
pub fn parse(text: &str) -> Result<Document<'_>, Error> {
    if text.len() > MAX_BODY {
        return Err(Error::Protocol(format!("answer too large ({} bytes)", text.len())));
    }
    limits::check(text)?;
    let opts = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, ..ParsingOptions::default() };
    Document::parse_with_options(text, opts).map_err(|e| Error::Protocol(format!("malformed XML: {e}")))
}

/// [`parse`] of raw bytes, as they come off the network (invalid UTF-8 is an error). The entry point for
/// fuzzing the envelope parse.
pub fn parse_bytes(bytes: &[u8]) -> Result<Document<'_>, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Protocol(format!("the answer is not UTF-8: {e}")))?;
    parse(text)
}

/// Runs `read` (parsing an answer and reading what the caller wants from it) on tokio's blocking pool, so
/// the async runtime never parses; an answer whose reading takes longer than [`READ_BUDGET`] is refused
/// (the reading finishes in the background; [`limits`] bounds it).
pub async fn off_runtime<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    match tokio::time::timeout(READ_BUDGET, tokio::task::spawn_blocking(read)).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(Error::Protocol(format!("reading the answer failed: {e}"))),
        Err(_) => {
            Err(Error::Protocol(format!("reading the answer took longer than {} s; refused", READ_BUDGET.as_secs())))
        }
    }
}

/// Child elements of `n` with local name `local`.
pub fn children<'a, 'i>(n: Node<'a, 'i>, local: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(move |c| c.is_element() && c.tag_name().name() == local)
}

/// The first child element of `n` with local name `local`.
pub fn child<'a, 'i>(n: Node<'a, 'i>, local: &'static str) -> Option<Node<'a, 'i>> {
    children(n, local).next()
}

/// Follows a path of local names through child elements.
pub fn path<'a, 'i>(n: Node<'a, 'i>, locals: &[&'static str]) -> Option<Node<'a, 'i>> {
    let mut cur = n;
    for l in locals {
        cur = child(cur, l)?;
    }
    Some(cur)
}

/// Descendant elements of `n` (itself excluded) with local name `local`.
pub fn descendants<'a, 'i>(n: Node<'a, 'i>, local: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.descendants().skip(1).filter(move |c| c.is_element() && c.tag_name().name() == local)
}

/// The first descendant element with local name `local`.
pub fn descendant<'a, 'i>(n: Node<'a, 'i>, local: &'static str) -> Option<Node<'a, 'i>> {
    descendants(n, local).next()
}

/// The element's text content (all text below it), trimmed.
pub fn text(n: Node<'_, '_>) -> String {
    let mut s = String::new();
    for d in n.descendants().filter(|d| d.is_text()) {
        s.push_str(d.text().unwrap_or_default());
    }
    s.trim().to_owned()
}

/// The text of the child element at `locals`, when present and not empty.
pub fn text_at(n: Node<'_, '_>, locals: &[&'static str]) -> Option<String> {
    path(n, locals).map(text).filter(|t| !t.is_empty())
}

/// An attribute by local name, whatever its namespace.
pub fn attr<'a>(n: Node<'a, '_>, local: &str) -> Option<&'a str> {
    n.attributes().find(|a| a.name() == local).map(|a| a.value())
}

/// The SOAP Body's first element.
pub fn body_element<'a, 'i>(doc: &'a Document<'i>) -> Option<Node<'a, 'i>> {
    let env = doc.root_element();
    let body = child(env, "Body")?;
    body.children().find(|c| c.is_element())
}

/// A SOAP fault, 1.1 or 1.2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Code and subcodes, local parts only (`Sender`, `NotAuthorized`).
    pub codes: Vec<String>,
    pub reason: String,
}

impl Fault {
    /// Whether the camera refused the credentials.
    pub fn is_not_authorized(&self) -> bool {
        let r = self.reason.to_ascii_lowercase();
        self.codes.iter().any(|c| c == "NotAuthorized" || c == "FailedAuthentication" || c == "InvalidSecurity")
            || r.contains("not authorized")
            || r.contains("unauthorized")
            || r.contains("authentication")
    }

    /// Whether the camera does not know the operation (so a fallback may be tried).
    pub fn is_not_supported(&self) -> bool {
        self.codes.iter().any(|c| c.contains("ActionNotSupported") || c.contains("NotSupported"))
            || self.reason.to_ascii_lowercase().contains("not supported")
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codes = self.codes.join("/");
        match (codes.is_empty(), self.reason.is_empty()) {
            (false, false) => write!(f, "{codes}: {}", self.reason),
            (false, true) => f.write_str(&codes),
            _ => f.write_str(&self.reason),
        }
    }
}

/// The fault in an answer, if it is one.
pub fn fault(doc: &Document<'_>) -> Option<Fault> {
    let f = body_element(doc).filter(|n| n.tag_name().name() == "Fault")?;
    let local = |qname: String| qname.rsplit(':').next().unwrap_or_default().to_owned();
    let mut codes = Vec::new();
    // SOAP 1.2: Code/Value, Code/Subcode/Value, ...
    let mut code = child(f, "Code");
    while let Some(c) = code {
        if let Some(v) = child(c, "Value") {
            codes.push(local(text(v)));
        }
        code = child(c, "Subcode");
    }
    // SOAP 1.1: faultcode
    if let Some(c) = child(f, "faultcode") {
        codes.push(local(text(c)));
    }
    let reason = child(f, "Reason")
        .and_then(|r| child(r, "Text").or(Some(r)))
        .or_else(|| child(f, "faultstring"))
        .map(text)
        .unwrap_or_default();
    // Both end up in error texts (logs, the probe's answer): a camera's fault may not fill them with a MiB.
    let codes = codes.into_iter().filter(|c| !c.is_empty()).take(8).map(|c| clip(&c, 80)).collect();
    Some(Fault { codes, reason: clip(&reason, MAX_REASON) })
}

/// The most characters of a fault's reason kept.
const MAX_REASON: usize = 300;

/// `s` cut to at most `max` characters (on a character boundary), marked with `…` when cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Strips namespace prefixes from every step of a topic path (`tns1:RuleEngine/tnsaxis:X` → `RuleEngine/X`).
pub fn plain_topic(topic: &str) -> String {
    topic
        .trim()
        .split('/')
        .map(|step| step.rsplit(':').next().unwrap_or(step))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_of_both_soap_versions() {
        let v12 = r#"<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
            xmlns:ter="http://www.onvif.org/ver10/error"><SOAP-ENV:Body><SOAP-ENV:Fault><SOAP-ENV:Code>
            <SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value><SOAP-ENV:Subcode><SOAP-ENV:Value>ter:NotAuthorized</SOAP-ENV:Value>
            </SOAP-ENV:Subcode></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">Sender not Authorized</SOAP-ENV:Text>
            </SOAP-ENV:Reason></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let doc = parse(v12).unwrap();
        let f = fault(&doc).unwrap();
        assert_eq!(f.codes, vec!["Sender", "NotAuthorized"]);
        assert!(f.is_not_authorized());
        let v11 = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
            <faultcode>s:Client</faultcode><faultstring>Action not supported</faultstring></s:Fault></s:Body></s:Envelope>"#;
        let doc = parse(v11).unwrap();
        let f = fault(&doc).unwrap();
        assert!(f.is_not_supported() && !f.is_not_authorized(), "{f:?}");
        let ok = r#"<e:Envelope xmlns:e="x"><e:Body><a:R xmlns:a="y"/></e:Body></e:Envelope>"#;
        assert!(fault(&parse(ok).unwrap()).is_none());
    }

    #[test]
    fn long_fault_texts_are_clipped() {
        let long = format!(
            r#"<s:Envelope xmlns:s="x"><s:Body><s:Fault><faultcode>s:{}</faultcode><faultstring>{}</faultstring></s:Fault></s:Body></s:Envelope>"#,
            "C".repeat(5000),
            "é".repeat(100_000)
        );
        let f = fault(&parse(&long).unwrap()).unwrap();
        assert!(f.reason.chars().count() <= MAX_REASON + 1 && f.reason.ends_with('…'), "{}", f.reason.len());
        assert!(f.codes[0].chars().count() <= 81);
        assert_eq!(clip("abc", 3), "abc");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("").is_err());
        let dtd = r#"<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#;
        assert!(parse(dtd).is_err(), "no DTDs");
        let huge = format!("<a>{}</a>", "x".repeat(MAX_BODY));
        assert!(parse(&huge).is_err());
    }

    #[tokio::test]
    async fn reading_runs_off_the_runtime_under_a_budget() {
        // One runtime thread (#[tokio::test]): a ticker keeps ticking while a reading blocks its thread,
        // and the caller gets an error once the budget is spent.
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let t = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let started = std::time::Instant::now();
        let slow = off_runtime(|| {
            std::thread::sleep(READ_BUDGET + Duration::from_secs(1));
            Ok(())
        })
        .await;
        ticker.abort();
        assert!(matches!(&slow, Err(Error::Protocol(m)) if m.contains("took longer")), "{slow:?}");
        assert!(started.elapsed() < READ_BUDGET + Duration::from_millis(900), "{:?}", started.elapsed());
        assert!(ticks.load(std::sync::atomic::Ordering::Relaxed) >= 10, "the runtime stalled");
        assert_eq!(
            off_runtime(|| parse("<a/>").map(|d| d.root_element().tag_name().name().to_owned())).await.unwrap(),
            "a"
        );
        assert!(parse_bytes(b"<a>\xff</a>").is_err());
    }

    #[test]
    fn topics_lose_their_prefixes() {
        assert_eq!(plain_topic(" tns1:RuleEngine/CellMotionDetector/Motion "), "RuleEngine/CellMotionDetector/Motion");
        assert_eq!(plain_topic("tns1:VideoSource/tnshik:MotionAlarm"), "VideoSource/MotionAlarm");
        assert_eq!(escape("a<&>\"'"), "a&lt;&amp;&gt;&quot;&apos;");
    }
}
