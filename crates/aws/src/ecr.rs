//! ECR image tags of a service's repository, for the API's tags endpoint.

use std::time::SystemTime;

use crate::error::AwsError;

/// One tag of an image in ECR.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageTag {
    /// The tag.
    pub tag: String,
    /// When the image was pushed, RFC 3339.
    pub pushed_at: Option<String>,
    /// The image digest.
    pub digest: Option<String>,
}

/// An ECR repository, parsed from an image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrRepository {
    /// The account (registry id).
    pub registry_id: String,
    /// The repository name, e.g. `team/web`.
    pub name: String,
}

/// The ECR repository of an image reference such as
/// `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:1.4.2`, or `None` when the
/// image is not in ECR.
pub fn ecr_repository(image: &str) -> Option<EcrRepository> {
    let (host, path) = image.split_once('/')?;
    let mut parts = host.split('.');
    let registry_id = parts.next()?;
    if !(registry_id.len() == 12 && registry_id.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    if parts.next()? != "dkr" || parts.next()? != "ecr" {
        return None;
    }
    let path = path.split_once('@').map_or(path, |(p, _)| p);
    let name = match path.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => path,
    };
    Some(EcrRepository { registry_id: registry_id.to_owned(), name: name.to_owned() })
}

/// The `limit` most recently pushed tags of a repository, newest first. An image with
/// several tags gives one entry per tag.
pub async fn recent_tags(
    ecr: &aws_sdk_ecr::Client,
    repo: &EcrRepository,
    limit: usize,
) -> Result<Vec<ImageTag>, AwsError> {
    let pages = ecr
        .describe_images()
        .registry_id(&repo.registry_id)
        .repository_name(&repo.name)
        .filter(
            aws_sdk_ecr::types::DescribeImagesFilter::builder()
                .tag_status(aws_sdk_ecr::types::TagStatus::Tagged)
                .build(),
        )
        .max_results(1000)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::ecr("DescribeImages", format!("repository {}", repo.name), e))?;
    let mut tags: Vec<(Option<SystemTime>, ImageTag)> = pages
        .iter()
        .flat_map(|p| p.image_details())
        .flat_map(|d| {
            let pushed = d.image_pushed_at().and_then(|t| SystemTime::try_from(*t).ok());
            d.image_tags().iter().map(move |t| {
                (
                    pushed,
                    ImageTag {
                        tag: t.clone(),
                        pushed_at: pushed.map(|p| humantime::format_rfc3339_seconds(p).to_string()),
                        digest: d.image_digest().map(str::to_owned),
                    },
                )
            })
        })
        .collect();
    // Newest first; ties (tags of one image) by name, so the order is stable.
    tags.sort_by(|(a, x), (b, y)| b.cmp(a).then_with(|| x.tag.cmp(&y.tag)));
    Ok(tags.into_iter().take(limit).map(|(_, t)| t).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ecr_images() {
        let r = ecr_repository("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:1.4.2").unwrap();
        assert_eq!(r, EcrRepository { registry_id: "123456789012".into(), name: "team/web".into() });
        let r = ecr_repository("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:abc").unwrap();
        assert_eq!(r.name, "web");
        let r = ecr_repository("123456789012.dkr.ecr.us-east-1.amazonaws.com/web").unwrap();
        assert_eq!(r.name, "web");
    }

    #[test]
    fn other_registries_are_not_ecr() {
        assert_eq!(ecr_repository("nginx:1.25"), None);
        assert_eq!(ecr_repository("ghcr.io/org/app:1"), None);
        assert_eq!(ecr_repository("localhost:5000/app:1"), None);
    }
}
