//! A small JSON value, writer and reader: enough for `--json` and for the network options
//! netavark reads from podman (`gvnet podman-nat`), without a dependency. The reader takes
//! non-negative integers only (what both carry); anything else is an error.

use std::fmt::Write;

/// A JSON value. Objects keep their insertion order.
#[derive(Clone, Debug)]
pub enum Json {
    /// `null`.
    Null,
    /// `true`/`false`.
    Bool(bool),
    /// A non-negative integer.
    Num(u64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// A string value.
    pub fn s(v: impl Into<String>) -> Json {
        Json::Str(v.into())
    }

    /// An empty object.
    pub fn obj() -> Json {
        Json::Obj(Vec::new())
    }

    /// Adds `key: value` to an object (no-op for other values); returns it for chaining.
    pub fn with(mut self, key: &str, value: Json) -> Json {
        self.put(key, value);
        self
    }

    /// Adds `key: value` to an object.
    pub fn put(&mut self, key: &str, value: Json) {
        if let Json::Obj(v) = self {
            v.push((key.to_string(), value));
        }
    }

    /// The text, on one line, `"key": value` with one space after each colon and comma.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Str(s) => quote(s, out),
            Json::Arr(v) => {
                out.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    x.write(out);
                }
                out.push(']');
            }
            Json::Obj(v) => {
                out.push('{');
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    quote(k, out);
                    out.push_str(": ");
                    x.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl Json {
    /// The value at `key` of an object (the first such key), `None` for another value.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(v) => v.iter().find(|(k, _)| k == key).map(|(_, x)| x),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements of an array (none for another value).
    pub fn items(&self) -> &[Json] {
        match self {
            Json::Arr(v) => v,
            _ => &[],
        }
    }

    /// The members of an object, in their order (none for another value).
    pub fn members(&self) -> &[(String, Json)] {
        match self {
            Json::Obj(v) => v,
            _ => &[],
        }
    }

    /// Reads one JSON text (whitespace around it allowed).
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut r = Reader {
            b: text.as_bytes(),
            at: 0,
        };
        let v = r.value(0)?;
        r.space();
        if r.at != r.b.len() {
            return Err(r.error("text after the value"));
        }
        Ok(v)
    }
}

/// How deep arrays and objects may nest.
const DEPTH: usize = 64;

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn error(&self, what: &str) -> String {
        format!("JSON: {what} at byte {}", self.at)
    }

    fn space(&mut self) {
        while self.at < self.b.len() && matches!(self.b[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.space();
        if self.b.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Result<Json, String> {
        if self.b[self.at..].starts_with(w.as_bytes()) {
            self.at += w.len();
            Ok(v)
        } else {
            Err(self.error("unknown word"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > DEPTH {
            return Err(self.error("nested too deep"));
        }
        self.space();
        match self.b.get(self.at) {
            None => Err(self.error("end of text")),
            Some(b'n') => self.word("null", Json::Null),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'0'..=b'9') => {
                let start = self.at;
                while self.at < self.b.len() && self.b[self.at].is_ascii_digit() {
                    self.at += 1;
                }
                if matches!(self.b.get(self.at), Some(b'.' | b'e' | b'E')) {
                    return Err(self.error("a number that is not a non-negative integer"));
                }
                std::str::from_utf8(&self.b[start..self.at])
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .map(Json::Num)
                    .ok_or_else(|| self.error("a number too large"))
            }
            Some(b'[') => {
                self.at += 1;
                let mut v = Vec::new();
                if self.eat(b']') {
                    return Ok(Json::Arr(v));
                }
                loop {
                    v.push(self.value(depth + 1)?);
                    if self.eat(b']') {
                        return Ok(Json::Arr(v));
                    }
                    if !self.eat(b',') {
                        return Err(self.error("no , or ] in an array"));
                    }
                }
            }
            Some(b'{') => {
                self.at += 1;
                let mut v = Vec::new();
                if self.eat(b'}') {
                    return Ok(Json::Obj(v));
                }
                loop {
                    self.space();
                    if self.b.get(self.at) != Some(&b'"') {
                        return Err(self.error("no key in an object"));
                    }
                    let k = self.string()?;
                    if !self.eat(b':') {
                        return Err(self.error("no : after a key"));
                    }
                    v.push((k, self.value(depth + 1)?));
                    if self.eat(b'}') {
                        return Ok(Json::Obj(v));
                    }
                    if !self.eat(b',') {
                        return Err(self.error("no , or } in an object"));
                    }
                }
            }
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    /// A string, the opening quote at `at`.
    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.at) else {
                return Err(self.error("unterminated string"));
            };
            self.at += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.b.get(self.at) else {
                        return Err(self.error("unterminated string"));
                    };
                    self.at += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = |r: &mut Self| -> Result<u32, String> {
                                let h =
                                    r.b.get(r.at..r.at + 4)
                                        .ok_or_else(|| r.error("short \\u"))?;
                                r.at += 4;
                                std::str::from_utf8(h)
                                    .ok()
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                                    .ok_or_else(|| r.error("bad \\u"))
                            };
                            let mut u = hex(self)?;
                            if (0xd800..0xdc00).contains(&u)
                                && self.b[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let lo = hex(self)?;
                                u = 0x10000
                                    + ((u - 0xd800) << 10)
                                    + (lo.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            char::from_u32(u).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(self.error("unknown escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.error("control character in a string")),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("a string that is not UTF-8"))
    }
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_values_and_escapes() {
        let j = Json::obj()
            .with("a", Json::Num(1))
            .with("b", Json::Arr(vec![Json::Bool(true), Json::Null]))
            .with("c", Json::s("q\"\\\n\u{1}"));
        assert_eq!(
            j.render(),
            r#"{"a": 1, "b": [true, null], "c": "q\"\\\n\u0001"}"#
        );
    }

    #[test]
    fn reads_what_it_writes_and_netavark_options() {
        let j = Json::obj()
            .with("a", Json::Num(1))
            .with(
                "b",
                Json::Arr(vec![Json::Bool(true), Json::Null, Json::obj()]),
            )
            .with("c", Json::s("q\"\\\n\u{1}é"));
        let back = Json::parse(&j.render()).unwrap();
        assert_eq!(back.render(), j.render());
        let o = Json::parse(
            r#" {"port_mappings":[{"host_ip":"","container_port":80,"host_port":8080,"range":1,"protocol":"tcp"}],
                "networks":{"podman":{"static_ips":["10.88.0.6"]}}, "x": "\u00e9\ud83d\ude00\/"} "#,
        )
        .unwrap();
        let pm = &o.get("port_mappings").unwrap().items()[0];
        assert_eq!(pm.get("host_port").and_then(Json::as_u64), Some(8080));
        assert_eq!(pm.get("protocol").and_then(Json::as_str), Some("tcp"));
        let nets = o.get("networks").unwrap().members();
        assert_eq!(nets[0].0, "podman");
        assert_eq!(
            nets[0].1.get("static_ips").unwrap().items()[0].as_str(),
            Some("10.88.0.6")
        );
        assert_eq!(o.get("x").and_then(Json::as_str), Some("é😀/"));
    }

    #[test]
    fn refuses_what_is_not_json_or_not_read_here() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "{a:1}",
            "-1",
            "1.5",
            "1e3",
            "\"\\x\"",
            "nul",
            "[] x",
            "\"a\nb\"",
            "99999999999999999999999",
        ] {
            assert!(Json::parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(Json::parse(&deep).is_err());
    }
}
