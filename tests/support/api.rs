//! The HTTP API client every test that speaks HTTP uses: one base URL, one set of credentials (none, a
//! Bearer token, or a login session's cookie + CSRF token), and requests that answer with the status, the
//! headers and the body (as bytes, text or JSON). HTTP error statuses are answers, not errors; a request
//! that gets no answer at all panics, naming the method and path.

use std::collections::HashMap;

use serde_json::Value;

/// An answer: status, headers (names in lower case; the last value of a repeated header) and body.
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as JSON; panics (with the body) when it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as JSON, or `null` when it is not JSON (an empty answer, say).
    pub fn json_or_null(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The status and [`Resp::json_or_null`].
    pub fn status_json(&self) -> (u16, Value) {
        (self.status, self.json_or_null())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A logged-in browser session, from [`Api::login`].
#[derive(Clone, Debug)]
pub struct Session {
    /// The whole `Set-Cookie` header of the login answer (with its attributes).
    pub set_cookie: String,
    /// `name=value` of the session cookie, as a `Cookie` header sends it.
    pub cookie: String,
    /// The CSRF token from the login answer.
    pub csrf: String,
    /// The login answer's JSON.
    pub body: Value,
}

#[derive(Clone)]
enum Credentials {
    None,
    Bearer(String),
    Session(Session),
}

/// A client for one keepwatch: `Api::new(base)` sends no credentials; [`Api::with_bearer`] and
/// [`Api::with_session`] give a copy that does. Connections are not reused between requests.
#[derive(Clone)]
pub struct Api {
    base: String,
    agent: ureq::Agent,
    credentials: Credentials,
}

impl Api {
    /// `base` is `http://127.0.0.1:PORT` (or https), without a trailing slash.
    pub fn new(base: &str) -> Api {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
        Api { base: base.trim_end_matches('/').to_owned(), agent, credentials: Credentials::None }
    }

    /// This client sending `Authorization: Bearer TOKEN`.
    pub fn with_bearer(&self, token: &str) -> Api {
        Api { credentials: Credentials::Bearer(token.to_owned()), ..self.clone() }
    }

    /// This client sending the session cookie, and on writes (anything but GET/HEAD) its CSRF token too.
    pub fn with_session(&self, session: &Session) -> Api {
        Api { credentials: Credentials::Session(session.clone()), ..self.clone() }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST /api/login` (without this client's credentials); panics unless it answers 200 with a session
    /// cookie and a CSRF token.
    #[track_caller]
    pub fn login(&self, user: &str, password: &str) -> Session {
        let body = serde_json::json!({"username": user, "password": password}).to_string();
        let r = Api::new(&self.base).send("POST", "/api/login", &[], Some(&body));
        assert_eq!(r.status, 200, "login {user}: {}", r.text());
        let set_cookie = r.header("set-cookie").expect("a session cookie").to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let body = r.json();
        let csrf = body["csrf_token"].as_str().expect("a CSRF token").to_owned();
        Session { set_cookie, cookie, csrf, body }
    }

    /// One request: this client's credentials, then `headers`; a `body` is sent as JSON.
    #[track_caller]
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
        let mut b = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        match &self.credentials {
            Credentials::None => {}
            Credentials::Bearer(token) => b = b.header("authorization", format!("Bearer {token}")),
            Credentials::Session(s) => {
                b = b.header("cookie", &s.cookie);
                if method != "GET" && method != "HEAD" {
                    b = b.header("x-csrf-token", &s.csrf);
                }
            }
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let result = match body {
            Some(text) => {
                b = b.header("content-type", "application/json");
                self.agent.run(b.body(text.to_owned()).unwrap())
            }
            None => self.agent.run(b.body(()).unwrap()),
        };
        let mut r = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let headers =
            r.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
        let status = r.status().as_u16();
        let body = r.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap_or_default();
        Resp { status, headers, body }
    }

    /// `method path` with an optional JSON body.
    #[track_caller]
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let text = body.map(Value::to_string);
        self.send(method, path, &[], text.as_deref())
    }

    #[track_caller]
    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None)
    }

    /// GET with extra request headers.
    #[track_caller]
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.send("GET", path, headers, None)
    }

    /// GET that must answer 200 with JSON; panics with the path and the answer otherwise.
    #[track_caller]
    pub fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    }

    #[track_caller]
    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.call("POST", path, Some(body))
    }

    #[track_caller]
    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.call("PUT", path, Some(body))
    }

    #[track_caller]
    pub fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, None)
    }
}
