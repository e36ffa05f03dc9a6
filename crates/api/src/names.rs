//! Names that come from URLs. They become S3 key segments and ECS names, so they are
//! checked against ECS's own rules before anything else: nothing can inject a key.

use crate::error::ApiError;

/// An ECS cluster or service name: 1-255 letters, digits, hyphens and underscores.
pub fn check_name(kind: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_name",
            format!("{kind} name {name:?} is invalid: use 1-255 letters, digits, hyphens and underscores"),
        ))
    }
}

/// A job id: a UUID.
pub fn check_job_id(id: &str) -> Result<(), ApiError> {
    match uuid::Uuid::try_parse(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(()),
        _ => Err(ApiError::bad_request("invalid_job_id", format!("{id:?} is not a job id (a UUID)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["prod", "a", "web_api-2", &"x".repeat(255)] {
            assert!(check_name("cluster", ok).is_ok(), "{ok}");
        }
        for bad in ["", "..", "../x", "a/b", "a b", "ü", "a%2Fb", &"x".repeat(256), "a.b"] {
            assert_eq!(check_name("cluster", bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn job_ids() {
        assert!(check_job_id("0190c6e2-7b8a-7c3d-9e4f-123456789abc").is_ok());
        assert!(check_job_id("../status").is_err());
        assert!(check_job_id("0190C6E2-7B8A-7C3D-9E4F-123456789ABC").is_err());
    }
}
