//! Where a card's later states go ([`crate::chat::Followup`]).
//!
//! - After a slash command or a click, the card is replaced through the request's
//!   `response_url` (`replace_original`). Slack takes 5 posts to one `response_url`
//!   within 30 minutes; the first answer is one of them. Past that, a card whose
//!   message is known (a click names it) is edited with `chat.update`, and otherwise
//!   the update is dropped (and logged).
//! - With a bot token and a known message, each new state also gets one short line
//!   in the card's thread (`chat.postMessage` with `thread_ts`): the job's progress.
//! - After an app mention, the card is a message bosun posted itself, edited with
//!   `chat.update` once its timestamp is known.
//!
//! Delivery is best effort: [`Followup::update`] returns a future that the caller may
//! spawn, and a failure is logged.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bosun_chat::{Card, CardState, Reply, slack};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::web::Web;
use crate::chat::Followup;

/// Posts Slack takes to one `response_url`.
pub const RESPONSE_URL_USES: u32 = 5;
/// How long an update after an app mention waits for the card's timestamp.
const TS_WAIT: Duration = Duration::from_secs(30);

/// A message in a channel: where it is, and its timestamp (Slack's message id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel id.
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
}

/// Updates through a `response_url`, and progress in the card's thread.
#[derive(Debug, Clone)]
pub struct ResponseUrl(Arc<ResponseInner>);

#[derive(Debug)]
struct ResponseInner {
    web: Web,
    url: String,
    /// Posts to `url` so far, the first answer included.
    uses: AtomicU32,
    /// The card's message, when the request named it (a click).
    card: Option<Message>,
    /// The last state a progress line was posted for, so one state gets one line.
    last_state: Mutex<Option<CardState>>,
}

impl ResponseUrl {
    /// Updates of the reply to a request with this `response_url`, whose card is
    /// `card` when known. The first answer is counted as a use.
    pub fn new(web: Web, url: String, card: Option<Message>) -> Self {
        Self(Arc::new(ResponseInner { web, url, uses: AtomicU32::new(1), card, last_state: Mutex::new(None) }))
    }

    /// Post `card`'s state as a line in its thread, when there is a bot token, the
    /// card's message is known, and this state has no line yet. (The first answer to
    /// a click is delivered by the caller, which posts its line with this.)
    pub async fn progress(&self, card: &Card) {
        progress(&self.0, card).await;
    }
}

async fn progress(inner: &ResponseInner, card: &Card) {
    let Some(msg) = inner.card.as_ref().filter(|_| inner.web.has_token()) else { return };
    {
        let mut last = inner.last_state.lock().expect("the state lock is never poisoned");
        if *last == Some(card.state) {
            return;
        }
        *last = Some(card.state);
    }
    let args = json!({ "channel": msg.channel, "thread_ts": msg.ts, "text": slack::progress_line(card) });
    if let Err(e) = inner.web.call("chat.postMessage", &args).await {
        tracing::warn!(cause = %e, "could not post a chat card's progress in its thread");
    }
}

impl Followup for ResponseUrl {
    fn update(&self, reply: Reply) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let inner = self.0.clone();
        Box::pin(async move {
            let mut message = slack::message(&reply);
            let use_n = inner.uses.fetch_add(1, Ordering::AcqRel) + 1;
            let replaced = if use_n <= RESPONSE_URL_USES {
                message["replace_original"] = true.into();
                message["response_type"] = "in_channel".into();
                inner.web.respond(&inner.url, &message).await
            } else if let Some(card) = inner.card.as_ref().filter(|_| inner.web.has_token()) {
                message["channel"] = card.channel.clone().into();
                message["ts"] = card.ts.clone().into();
                inner.web.call("chat.update", &message).await.map(drop)
            } else {
                tracing::warn!(
                    uses = RESPONSE_URL_USES,
                    "a chat card update was dropped: its response_url is used up and its message is unknown"
                );
                Ok(())
            };
            if let Err(e) = replaced {
                tracing::warn!(cause = %e, "could not update a chat card");
            }
            if let Some(card) = &reply.card {
                progress(&inner, card).await;
            }
        })
    }
}

/// Updates of a card bosun posted itself (after an app mention) with `chat.update`.
#[derive(Debug, Clone)]
pub struct PostedCard {
    web: Web,
    channel: String,
    /// The card's `ts`, once it is posted.
    ts: watch::Receiver<Option<String>>,
}

/// Where the card's `ts` is given, once posted.
#[derive(Debug)]
pub struct CardTs(watch::Sender<Option<String>>);

impl CardTs {
    /// The card was posted with this `ts`.
    pub fn set(&self, ts: String) {
        let _ = self.0.send(Some(ts));
    }
}

impl PostedCard {
    /// Updates of a card to be posted in `channel`, and where its `ts` goes once known.
    pub fn new(web: Web, channel: String) -> (Self, CardTs) {
        let (tx, rx) = watch::channel(None);
        (Self { web, channel, ts: rx }, CardTs(tx))
    }
}

impl Followup for PostedCard {
    fn update(&self, reply: Reply) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let this = self.clone();
        Box::pin(async move {
            let mut rx = this.ts.clone();
            let ts = match tokio::time::timeout(TS_WAIT, rx.wait_for(Option::is_some)).await {
                Ok(Ok(ts)) => ts.clone().expect("waited for it"),
                _ => {
                    tracing::warn!("a chat card update was dropped: the card was never posted");
                    return;
                }
            };
            let mut message: Value = slack::message(&reply);
            message["channel"] = this.channel.into();
            message["ts"] = ts.into();
            if let Err(e) = this.web.call("chat.update", &message).await {
                tracing::warn!(cause = %e, "could not update a chat card");
            }
        })
    }
}
