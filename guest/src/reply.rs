//! What the policy answers: a [`Reply`] (status, header fields, [`Body`]) for the glue to
//! write as is, and the JSON error replies.

use crate::json;

/// The methods [`crate::respond::serve`] answers; any other gets
/// [`Reply::method_not_allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD: the GET answer without its body (RFC 9110 §9.3.2).
    Head,
}

/// The status codes the guest answers with (RFC 9110 §15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Status {
    /// 200: the whole representation.
    Ok = 200,
    /// 206: one range, or several as `multipart/byteranges`.
    PartialContent = 206,
    /// 304: the client's cached copy is current.
    NotModified = 304,
    /// 400: the request cannot name a file.
    BadRequest = 400,
    /// 403: the path tries to leave the music dir.
    Forbidden = 403,
    /// 404: no servable file.
    NotFound = 404,
    /// 405: only made by [`Reply::method_not_allowed`], which adds the `Allow` it requires.
    MethodNotAllowed = 405,
    /// 412: If-Match or If-Unmodified-Since is false.
    PreconditionFailed = 412,
    /// 416: no range overlaps the representation.
    RangeNotSatisfiable = 416,
    /// 422: the decoder rejected the file.
    UnprocessableContent = 422,
    /// 500: a fault of the host or the guest.
    InternalServerError = 500,
    /// 503: a decoder is missing or all are busy.
    ServiceUnavailable = 503,
}

impl Status {
    /// The three-digit code.
    pub fn code(self) -> u16 {
        self as u16
    }
}

/// A response for the glue to write as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status.
    pub status: Status,
    /// Header fields in order, with lower-case names as HTTP/2 and wasi-http want them.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

impl Reply {
    /// A JSON error `{"error":"<message>"}` with Content-Type and Content-Length. For HEAD,
    /// pass it through [`Reply::for_method`].
    pub fn error(status: Status, message: &str) -> Self {
        let mut body = String::from("{\"error\":");
        json::push_string(&mut body, message);
        body.push('}');
        let body = body.into_bytes();
        let headers = vec![
            ("content-type", "application/json".to_owned()),
            ("content-length", body.len().to_string()),
        ];
        Self { status, headers, body: Body::Literal(body) }
    }

    /// The 405 for any method but GET and HEAD, with the `Allow` that RFC 9110 §15.5.6 requires.
    pub fn method_not_allowed() -> Self {
        Self::error(Status::MethodNotAllowed, "Method not allowed")
            .with_header("allow", "GET, HEAD".to_owned())
    }

    /// The 500 for a fault of the host or the guest; the message names nothing of either.
    pub fn server_error() -> Self {
        Self::error(Status::InternalServerError, "Server error")
    }

    /// This reply with the field `name: value` added after the others.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The value of the first field named `name`.
    #[cfg(test)]
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let mut fields = self.headers.iter().filter(|(field, _)| *field == name);
        fields.next().map(|(_, value)| value.as_str())
    }

    /// This reply as the answer to `method`: for HEAD, the same status and header fields,
    /// Content-Length included, without the body (RFC 9110 §9.3.2).
    pub fn for_method(self, method: Method) -> Self {
        match method {
            Method::Get => self,
            Method::Head => Self { body: Body::Empty, ..self },
        }
    }
}

/// A response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body: HEAD, 304.
    Empty,
    /// Bytes made here, such as a JSON error.
    Literal(Vec<u8>),
    /// Bytes of the representation, with literal framing between them for multipart replies.
    Representation(Vec<Chunk>),
}

/// A piece of a [`Body::Representation`], written in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes to send as they are.
    Literal(Vec<u8>),
    /// `len` bytes of the representation from offset `start`, copied by the glue from the file
    /// or the transcoder.
    Span {
        /// The offset of the first byte.
        start: u64,
        /// The number of bytes.
        len: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::{Body, Method, Reply, Status};

    #[test]
    fn status_codes() {
        #[rustfmt::skip]
        let cases = [
            (Status::Ok, 200), (Status::PartialContent, 206), (Status::NotModified, 304),
            (Status::BadRequest, 400), (Status::Forbidden, 403), (Status::NotFound, 404),
            (Status::MethodNotAllowed, 405), (Status::PreconditionFailed, 412),
            (Status::RangeNotSatisfiable, 416), (Status::UnprocessableContent, 422),
            (Status::InternalServerError, 500), (Status::ServiceUnavailable, 503),
        ];
        for (status, code) in cases {
            assert_eq!(status.code(), code, "{status:?}");
        }
    }

    #[test]
    fn errors_are_json_with_exact_length_and_no_body_for_head() {
        // (reply, status, JSON body, Allow).
        #[rustfmt::skip]
        let cases = [
            (Reply::error(Status::NotFound, "File not found"), Status::NotFound, r#"{"error":"File not found"}"#, None),
            (Reply::error(Status::Forbidden, "Invalid path"), Status::Forbidden, r#"{"error":"Invalid path"}"#, None),
            (Reply::method_not_allowed(), Status::MethodNotAllowed, r#"{"error":"Method not allowed"}"#, Some("GET, HEAD")),
            (Reply::server_error(), Status::InternalServerError, r#"{"error":"Server error"}"#, None),
            (Reply::error(Status::InternalServerError, "a \"quoted\" \\ path\nwith\ttabs\r\u{1}\u{1f} é 日本"), Status::InternalServerError, r#"{"error":"a \"quoted\" \\ path\nwith\ttabs\r\u0001\u001f é 日本"}"#, None),
        ];
        for (reply, status, json, allow) in cases {
            assert_eq!(reply.status, status, "{json}");
            assert_eq!(reply.body, Body::Literal(json.as_bytes().to_vec()), "{json}");
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert_eq!(reply.header("content-length"), Some(json.len().to_string().as_str()));
            assert_eq!(reply.header("allow"), allow, "{json}");
            let head = reply.clone().for_method(Method::Head);
            assert_eq!(head, Reply { body: Body::Empty, ..reply.clone() });
            assert_eq!(reply.clone().for_method(Method::Get), reply);
        }
    }
}
