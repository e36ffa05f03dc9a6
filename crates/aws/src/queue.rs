//! The SQS FIFO job queue, and `bosun init`: the bucket and queues an installation needs,
//! and `connect`, which opens them.
//!
//! Jobs are grouped by cluster (`MessageGroupId`), so SQS hands out one job per cluster
//! at a time across every consumer, in order; the job id is the deduplication id, so a
//! retried send never enqueues a job twice.

use std::time::Duration;

use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use crate::error::AwsError;
use crate::jobs::JobMessage;
use crate::store::Store;

/// Receives before a job moves to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// How long a received job stays invisible to other consumers before a heartbeat
/// extends it.
pub const VISIBILITY_TIMEOUT_SECS: u32 = 60;
/// How long the dead-letter queue keeps a job: 14 days, the SQS maximum.
const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;
/// Days a job record is kept by default (`bosun init --job-retention-days`).
pub const JOB_RETENTION_DAYS: u32 = 90;
/// The id of the bucket lifecycle rule that expires old lease versions. `init` owns
/// the rules with these ids and keeps every other rule of the bucket.
pub const LEASES_RULE: &str = "bosun-leases";
/// The id of the lifecycle rule that expires job records.
pub const JOB_RECORDS_RULE: &str = "bosun-job-records";
/// The id of the lifecycle rule that expires chat proposals.
pub const PROPOSALS_RULE: &str = "bosun-proposals";
/// Days a chat proposal is kept: one waits at most 30 minutes, and its card links to
/// it while the job runs; after that only the job record (which names it) matters.
pub const PROPOSAL_RETENTION_DAYS: i32 = 30;

/// The job queue.
#[derive(Debug, Clone)]
pub struct Queue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    /// The queue named or addressed by `name_or_url` (a queue URL, or a name resolved
    /// with `GetQueueUrl`).
    pub async fn resolve(sqs: aws_sdk_sqs::Client, name_or_url: &str) -> Result<Self, AwsError> {
        let url = if name_or_url.starts_with("https://") || name_or_url.starts_with("http://") {
            name_or_url.to_owned()
        } else {
            queue_url(&sqs, name_or_url).await?
        };
        Ok(Self { sqs, url })
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQS client.
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    /// Whether the queue answers (`GetQueueAttributes`).
    pub async fn ping(&self) -> Result<(), AwsError> {
        self.sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::sqs("GetQueueAttributes", format!("queue {}", self.url), e))
    }

    /// Enqueue a job; returns the SQS message id.
    pub async fn send(&self, job: &JobMessage) -> Result<String, AwsError> {
        self.send_deduplicated(job, &job.job_id).await
    }

    /// Enqueue a job again (out of the dead-letter queue) under another deduplication
    /// id than its first send's, which SQS may still remember for 5 minutes.
    pub async fn send_deduplicated(&self, job: &JobMessage, deduplication_id: &str) -> Result<String, AwsError> {
        let body = serde_json::to_string(job).expect("a job message always serialises");
        let out = self
            .sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id(&job.cluster)
            .message_deduplication_id(deduplication_id)
            .send()
            .await
            .map_err(|e| AwsError::sqs("SendMessage", format!("job {}", job.job_id), e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    /// This job queue's dead-letter queue, named as [`init`] names it
    /// ([`dead_letter_queue_name`]); `None` when the queue is not FIFO or there is no
    /// such queue.
    pub async fn dead_letters(&self) -> Result<Option<Queue>, AwsError> {
        let name = self.url.rsplit('/').next().unwrap_or(&self.url);
        let Some(dlq) = dead_letter_queue_name(name) else { return Ok(None) };
        match queue_url(&self.sqs, &dlq).await {
            Ok(url) => Ok(Some(Self { sqs: self.sqs.clone(), url })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The messages in the queue, as SQS counts them (approximately): waiting, in
    /// flight, and delayed.
    pub async fn depth(&self) -> Result<u64, AwsError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| AwsError::sqs("GetQueueAttributes", format!("queue {}", self.url), e))?;
        let attributes = out.attributes();
        Ok([
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ]
        .iter()
        .filter_map(|k| attributes?.get(k)?.parse::<u64>().ok())
        .sum())
    }
}

/// A job message as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The SQS message id.
    pub message_id: String,
    /// The body: a [`JobMessage`] as JSON, unless someone else wrote to the queue.
    pub body: String,
    /// The handle that extends, releases or deletes this receipt.
    pub receipt: String,
    /// How many times SQS has handed the message out, this time included.
    pub receive_count: u32,
}

impl Queue {
    /// Long-poll for up to `max` (1-10) messages, waiting at most `wait` (0-20 s), and
    /// keep what arrives invisible to other consumers for `visibility`.
    pub async fn receive(&self, max: i32, wait: Duration, visibility: Duration) -> Result<Vec<Received>, AwsError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(secs(wait).min(20))
            .visibility_timeout(secs(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| AwsError::sqs("ReceiveMessage", format!("queue {}", self.url), e))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    /// Keep a received message invisible for `visibility` from now (a heartbeat), or
    /// with zero, hand it back to the queue at once.
    pub async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), AwsError> {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(secs(visibility))
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::sqs("ChangeMessageVisibility", format!("queue {}", self.url), e))
    }

    /// Delete a handled message.
    pub async fn delete(&self, receipt: &str) -> Result<(), AwsError> {
        self.sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::sqs("DeleteMessage", format!("queue {}", self.url), e))
    }

    /// The queue's redrive `maxReceiveCount`: receives before SQS moves a message to
    /// the dead-letter queue. `None` when the queue has no redrive policy.
    pub async fn max_receive_count(&self) -> Result<Option<u32>, AwsError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| AwsError::sqs("GetQueueAttributes", format!("queue {}", self.url), e))?;
        let Some(policy) = out.attributes().and_then(|a| a.get(&QueueAttributeName::RedrivePolicy)) else {
            return Ok(None);
        };
        let policy: serde_json::Value = serde_json::from_str(policy).unwrap_or_default();
        // SQS returns the count as a number; older policies carry it as a string.
        Ok(match &policy["maxReceiveCount"] {
            serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        })
    }
}

/// Whole seconds, as SQS takes them.
fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, AwsError> {
    let out = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| AwsError::sqs("GetQueueUrl", format!("queue {name}"), e))?;
    Ok(out.queue_url().unwrap_or_default().to_owned())
}

/// The dead-letter queue of a FIFO job queue: `jobs.fifo` -> `jobs-dlq.fifo`.
pub fn dead_letter_queue_name(queue: &str) -> Option<String> {
    queue.strip_suffix(".fifo").map(|base| format!("{base}-dlq.fifo"))
}

/// The bucket or queue of an installation did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// `HeadBucket` failed.
    #[error("bucket {bucket} is not reachable (run `bosun init` to create it)")]
    Bucket {
        /// The bucket name.
        bucket: String,
        /// Why.
        #[source]
        source: AwsError,
    },
    /// The queue URL could not be resolved.
    #[error("queue {queue} is not reachable (run `bosun init` to create it)")]
    Queue {
        /// The queue name or URL.
        queue: String,
        /// Why.
        #[source]
        source: AwsError,
    },
}

/// Connect to what [`init`] made, checking that both exist: the store on `bucket`, and
/// the job queue `queue` (a name or a URL). The API and the scheduler start with this.
pub async fn connect(clients: &crate::Clients, bucket: &str, queue: &str) -> Result<(Store, Queue), ConnectError> {
    let store = Store::new(clients.s3.clone(), bucket);
    store.ping().await.map_err(|source| ConnectError::Bucket { bucket: bucket.to_owned(), source })?;
    let queue = Queue::resolve(clients.sqs.clone(), queue)
        .await
        .map_err(|source| ConnectError::Queue { queue: queue.to_owned(), source })?;
    Ok((store, queue))
}

/// What `bosun init` found or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// One line per resource: `created` or `exists`, then what.
    pub lines: Vec<String>,
    /// The job queue URL.
    pub queue_url: String,
    /// The dead-letter queue URL.
    pub dlq_url: String,
}

/// Create, idempotently, what an installation needs: the bucket with versioning on and
/// its lifecycle rules (see [`set_lifecycle`]), the FIFO job queue, and its dead-letter
/// queue with a redrive policy. Job records are kept `job_retention_days` (0: for ever).
pub async fn init(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    region: Option<&str>,
    bucket: &str,
    queue: &str,
    job_retention_days: u32,
) -> Result<InitReport, AwsError> {
    let mut lines = Vec::new();
    let Some(dlq) = dead_letter_queue_name(queue) else {
        return Err(AwsError::failed(
            "CreateQueue",
            format!("queue {queue}"),
            "InvalidName",
            "the job queue must be a FIFO queue: its name must end in `.fifo`",
            false,
        ));
    };

    let res = format!("bucket {bucket}");
    let mut create = s3.create_bucket().bucket(bucket);
    if let Some(r) = region.filter(|r| *r != "us-east-1") {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(r))
                .build(),
        );
    }
    // us-east-1 answers 200 to re-creating a bucket one owns, so look first.
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        lines.push(format!("exists   bucket {bucket}"));
    } else {
        match create.send().await {
            Ok(_) => lines.push(format!("created  bucket {bucket}")),
            Err(e) if matches!(e.as_service_error(), Some(CreateBucketError::BucketAlreadyOwnedByYou(_))) => {
                lines.push(format!("exists   bucket {bucket}"));
            }
            Err(e) => return Err(AwsError::s3("CreateBucket", res.clone(), e)),
        }
    }
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::s3("PutBucketVersioning", res, e))?;
    lines.push(format!("set      bucket {bucket} versioning: Enabled"));
    set_lifecycle(s3, bucket, job_retention_days).await?;
    lines.push(format!("set      bucket {bucket} lifecycle: {}", lifecycle_text(job_retention_days)));

    let (dlq_url, how) = ensure_fifo_queue(sqs, &dlq).await?;
    lines.push(format!("{how:<8} queue {dlq} (dead letters)"));
    sqs.set_queue_attributes()
        .queue_url(&dlq_url)
        .attributes(QueueAttributeName::MessageRetentionPeriod, DLQ_RETENTION_SECS.to_string())
        .send()
        .await
        .map_err(|e| AwsError::sqs("SetQueueAttributes", format!("queue {dlq}"), e))?;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| AwsError::sqs("GetQueueAttributes", format!("queue {dlq}"), e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();

    let (queue_url, how) = ensure_fifo_queue(sqs, queue).await?;
    lines.push(format!("{how:<8} queue {queue}"));
    let redrive =
        serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT.to_string() });
    sqs.set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::VisibilityTimeout, VISIBILITY_TIMEOUT_SECS.to_string())
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| AwsError::sqs("SetQueueAttributes", format!("queue {queue}"), e))?;
    lines.push(format!("set      queue {queue} redrive: {dlq} after {MAX_RECEIVE_COUNT} receives"));
    Ok(InitReport { lines, queue_url, dlq_url })
}

/// Set the bucket's lifecycle rules that keep bosun's state from growing without
/// bound, keeping every rule that is not bosun's:
/// - [`LEASES_RULE`]: under `leases/`, old versions of a lease (one per renewal)
///   expire a day after they were replaced, and the delete markers of released leases
///   once nothing is left under them;
/// - [`JOB_RECORDS_RULE`]: under `jobs/`, a job record expires `job_retention_days`
///   after its last write, and its earlier versions a day after they were replaced.
///   With 0 days there is no such rule: records are kept.
/// - [`PROPOSALS_RULE`]: under `proposals/`, a chat proposal expires
///   [`PROPOSAL_RETENTION_DAYS`] after its last write (it holds a candidate stackfile).
///
/// Stackfile versions (`clusters/`) are the history and never expire.
/// `PutBucketLifecycleConfiguration` replaces the whole configuration, so the rules
/// are read first and written back with bosun's own replaced.
pub async fn set_lifecycle(s3: &aws_sdk_s3::Client, bucket: &str, job_retention_days: u32) -> Result<(), AwsError> {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
        NoncurrentVersionExpiration,
    };
    let res = format!("bucket {bucket}");
    let existing = match s3.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(out) => out.rules().to_vec(),
        Err(e) => {
            let err = AwsError::s3("GetBucketLifecycleConfiguration", res.clone(), e);
            // NoSuchLifecycleConfiguration: the bucket has no rules yet.
            if !err.is_not_found() {
                return Err(err);
            }
            Vec::new()
        }
    };
    let mut rules: Vec<LifecycleRule> = existing
        .into_iter()
        .filter(|r| !matches!(r.id(), Some(LEASES_RULE | JOB_RECORDS_RULE | PROPOSALS_RULE)))
        .collect();
    let after_a_day = NoncurrentVersionExpiration::builder().noncurrent_days(1).build();
    let rule = |id: &str, prefix: &str, expiration: LifecycleExpiration| {
        LifecycleRule::builder()
            .id(id)
            .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
            .status(ExpirationStatus::Enabled)
            .expiration(expiration)
            .noncurrent_version_expiration(after_a_day.clone())
            .build()
            .expect("id, filter and status are set")
    };
    rules.push(rule(LEASES_RULE, "leases/", LifecycleExpiration::builder().expired_object_delete_marker(true).build()));
    rules.push(rule(
        PROPOSALS_RULE,
        "proposals/",
        LifecycleExpiration::builder().days(PROPOSAL_RETENTION_DAYS).build(),
    ));
    if job_retention_days > 0 {
        let days = i32::try_from(job_retention_days).unwrap_or(i32::MAX);
        rules.push(rule(JOB_RECORDS_RULE, "jobs/", LifecycleExpiration::builder().days(days).build()));
    }
    let config = BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().expect("rules are set");
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(config)
        .send()
        .await
        .map(drop)
        .map_err(|e| AwsError::s3("PutBucketLifecycleConfiguration", res, e))
}

/// `init`'s line about the lifecycle rules.
fn lifecycle_text(job_retention_days: u32) -> String {
    let jobs = match job_retention_days {
        0 => "job records kept".to_owned(),
        1 => "job records expire after 1 day".to_owned(),
        n => format!("job records expire after {n} days"),
    };
    format!(
        "old lease versions expire after 1 day; {jobs}; chat proposals expire after {PROPOSAL_RETENTION_DAYS} days; stackfile history kept"
    )
}

/// Create a FIFO queue unless it exists; returns its URL and `created` or `exists`.
async fn ensure_fifo_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<(String, &'static str), AwsError> {
    if let Ok(url) = queue_url(sqs, name).await {
        return Ok((url, "exists"));
    }
    let out = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
        .send()
        .await
        .map_err(|e| AwsError::sqs("CreateQueue", format!("queue {name}"), e))?;
    Ok((out.queue_url().unwrap_or_default().to_owned(), "created"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_queue_names() {
        assert_eq!(dead_letter_queue_name("bosun-jobs.fifo").as_deref(), Some("bosun-jobs-dlq.fifo"));
        assert_eq!(dead_letter_queue_name("bosun-jobs"), None);
    }
}
