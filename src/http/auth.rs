//! HTTP Basic authentication for every endpoint of a server section (Medusa's `auth_handler`
//! with Supervisor's `{SHA}` password support), and the `Server` header on every answer.

use axum::http::{HeaderValue, StatusCode};
use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::config::Credentials;

/// What Python's Medusa announces; kept so that nothing fingerprinting the server notices.
pub(super) const SERVER: &str = "Medusa/1.12";

/// Ok when the client sent the right credentials; 401 otherwise (400 for an undecodable
/// `Authorization` value, as Medusa).
pub(super) fn check(
    credentials: &Credentials,
    value: Option<&HeaderValue>,
) -> Result<(), StatusCode> {
    let value = value
        .and_then(|v| v.to_str().ok())
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let (scheme, cookie) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(cookie.trim())
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    let decoded = String::from_utf8(decoded).map_err(|_| StatusCode::BAD_REQUEST)?;
    let (username, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
    if username == credentials.username && password_matches(&credentials.password, password) {
        Ok(())
    } else {
        Err(StatusCode::UNAUTHORIZED)
    }
}

/// A stored `{SHA}<hex>` matches the lowercase hex SHA-1 of the supplied password; anything
/// else must be equal.
fn password_matches(stored: &str, supplied: &str) -> bool {
    match stored.strip_prefix("{SHA}") {
        Some(hex) => {
            let digest = Sha1::digest(supplied.as_bytes());
            let supplied_hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            hex == supplied_hex
        }
        None => stored == supplied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_sha_passwords() {
        assert!(password_matches("secret", "secret"));
        assert!(!password_matches("secret", "Secret"));
        let sha = "{SHA}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
        assert!(password_matches(sha, "test"));
        assert!(!password_matches(sha, "tost"));
    }

    #[test]
    fn basic_header_is_checked() {
        let creds = Credentials {
            username: "user".into(),
            password: "123".into(),
        };
        let ok = HeaderValue::from_static("Basic dXNlcjoxMjM=");
        assert_eq!(check(&creds, Some(&ok)), Ok(()));
        let wrong = HeaderValue::from_static("basic dXNlcjoxMjQ=");
        assert_eq!(check(&creds, Some(&wrong)), Err(StatusCode::UNAUTHORIZED));
        let garbage = HeaderValue::from_static("Basic !!!");
        assert_eq!(check(&creds, Some(&garbage)), Err(StatusCode::BAD_REQUEST));
        assert_eq!(check(&creds, None), Err(StatusCode::UNAUTHORIZED));
    }
}
