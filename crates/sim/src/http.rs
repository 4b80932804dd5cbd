//! A lean HTTP/1.1 client over one TCP connection (hyper's connection API): the callback
//! sender opens one per delivery like WeCom; the load generator keeps one per customer so
//! it is never the bottleneck.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::SimError;

/// Where callbacks go: `http://host:port/path?query`.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `host:port`, for connecting and for the `Host` header.
    pub(crate) authority: String,
    /// The path, without query.
    pub(crate) path: String,
    /// The query of the URL as given (joined in front of the callback's own).
    pub(crate) query: String,
}

impl Target {
    /// Reads a bot URL. Only `http://` (the simulator talks to loopback).
    pub(crate) fn parse(url: &str) -> Result<Self, SimError> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| SimError::Config(format!("bot URL {url:?}: {e}")))?;
        if uri.scheme_str() != Some("http") {
            return Err(SimError::Config(format!(
                "bot URL {url:?}: only http:// is supported (put a TLS proxy in front for https)"
            )));
        }
        let host = uri
            .host()
            .ok_or_else(|| SimError::Config(format!("bot URL {url:?} has no host")))?;
        let port = uri.port_u16().unwrap_or(80);
        Ok(Self {
            authority: format!("{host}:{port}"),
            path: match uri.path() {
                "" => "/".to_owned(),
                p => p.to_owned(),
            },
            query: uri.query().unwrap_or_default().to_owned(),
        })
    }

    /// The path and query for a request with the callback's `query`.
    pub(crate) fn path_and_query(&self, query: &str) -> String {
        match (self.query.is_empty(), query.is_empty()) {
            (true, true) => self.path.clone(),
            (true, false) => format!("{}?{query}", self.path),
            (false, true) => format!("{}?{}", self.path, self.query),
            (false, false) => format!("{}?{}&{query}", self.path, self.query),
        }
    }
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("{0}")]
    Http(#[from] hyper::Error),
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
}

/// One open connection.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Conn {
    /// Opens a connection to `target`.
    pub(crate) async fn connect(target: &Target) -> Result<Self, HttpError> {
        let stream = tokio::net::TcpStream::connect(&target.authority)
            .await
            .map_err(HttpError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            authority: target.authority.clone(),
        })
    }

    /// Whether the connection can carry another request.
    pub(crate) fn is_open(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Sends one request and reads the whole answer: `(status, body)`.
    pub(crate) async fn exchange(
        &mut self,
        method: hyper::Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(u16, Bytes), HttpError> {
        self.sender.ready().await?;
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::USER_AGENT, "Mozilla/4.0 (wecom-sim)");
        if let Some(ct) = content_type {
            builder = builder.header(hyper::header::CONTENT_TYPE, ct);
        }
        let request = builder.body(Full::new(body))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// One request to a `wecom-sim serve` control route: `(status 200) → body`, else an
/// error naming the status.
pub(crate) async fn control(
    api: &str,
    method: hyper::Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<Bytes, String> {
    let target = Target::parse(api).map_err(|e| e.to_string())?;
    let mut conn = Conn::connect(&target).await.map_err(|e| e.to_string())?;
    let payload = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    match conn
        .exchange(method, path, body.map(|_| "application/json"), payload)
        .await
    {
        Ok((200, body)) => Ok(body),
        Ok((status, body)) => Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body))),
        Err(e) => Err(e.to_string()),
    }
}

/// POSTs JSON to a control route.
pub(crate) async fn post_json(
    api: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<Bytes, String> {
    control(api, hyper::Method::POST, path, Some(body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_their_own_query() {
        let t = Target::parse("http://127.0.0.1:8080/wecom/callback?app=shop").expect("url");
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path_and_query("a=1"), "/wecom/callback?app=shop&a=1");
        let t = Target::parse("http://localhost").expect("url");
        assert_eq!(
            (t.authority.as_str(), t.path_and_query("")),
            ("localhost:80", "/".to_owned())
        );
        assert!(Target::parse("https://example.com/").is_err());
        assert!(Target::parse("not a url").is_err());
    }
}
