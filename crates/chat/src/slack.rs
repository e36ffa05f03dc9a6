//! A [`Reply`] as a Slack message: Block Kit blocks and a plain fallback text.
//!
//! [`message`] gives `{"text": ..., "blocks": [...]}`; the adapter adds what the
//! delivery needs (`response_type`, `replace_original`, `channel`, `thread_ts`).
//!
//! Every text that may hold what a user typed or what AWS said (cluster and service
//! names, tags, a plan, a reason) is escaped as Slack asks, `&` `<` `>` as entities
//! ([`escape`]), so nobody can write a mention (`<!channel>`), a link or a user
//! reference into bosun's messages. The only markup bosun adds itself is a user
//! mention for a chat user id that looks like one, and the link to the plan.
//!
//! Slack's limits are kept: at most 50 blocks, 3000 characters in a section, 25
//! elements in an actions block, 75 characters in a button label, 2000 in a button
//! value, and action ids unique within their block (a second `run` button is `run:1`;
//! the adapter reads the part before `:`).

use serde_json::{Value, json};

use crate::reply::{Button, ButtonStyle, Card, CardState, Reply};

/// The longest text of a section block.
pub const SECTION_TEXT: usize = 3000;
/// The most blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// The most elements in one actions block.
pub const MAX_ACTIONS: usize = 25;
/// The longest button label.
pub const BUTTON_TEXT: usize = 75;
/// The longest button value; a longer one cannot be sent, so its button is left out.
pub const BUTTON_VALUE: usize = 2000;
/// The longest confirmation dialog text.
const CONFIRM_TEXT: usize = 300;
/// Lines of the card's change list before "… and N more".
const SHOWN_CHANGES: usize = 20;
/// What a cut text ends with.
const CUT_NOTE: &str = "_(cut)_";

/// The message for `reply`: `{"text": fallback, "blocks": [...]}`.
pub fn message(reply: &Reply) -> Value {
    let mut blocks = Vec::new();
    if !reply.text.is_empty() {
        blocks.push(section(&escape_cut(&reply.text, SECTION_TEXT).0));
    }
    if let Some(body) = &reply.body {
        blocks.push(section(&code_block(body)));
    }
    if let Some(card) = &reply.card {
        card_blocks(card, &mut blocks);
    }
    // Buttons last, and only as many actions blocks as the block limit leaves room for.
    let room = MAX_BLOCKS.saturating_sub(blocks.len());
    let buttons = button_blocks(&reply.buttons);
    if buttons.len() > room {
        let kept = room.saturating_sub(1);
        blocks.extend(buttons.into_iter().take(kept));
        blocks.push(context("_(more buttons than one message can hold: cut)_"));
    } else {
        blocks.extend(buttons);
    }
    json!({ "text": fallback(reply), "blocks": blocks })
}

/// The text a notification or an old client shows instead of the blocks.
fn fallback(reply: &Reply) -> String {
    let text = match (&reply.card, reply.text.is_empty()) {
        (Some(card), true) => format!("{} change to {}", state_name(card.state), card.cluster),
        _ => reply.text.clone(),
    };
    escape_cut(&text, SECTION_TEXT).0
}

/// The card: state, people, changes, plan, link, and its buttons while it waits.
fn card_blocks(card: &Card, blocks: &mut Vec<Value>) {
    let mut head = format!(
        "{} *{}*: change to *{}* (proposal `{}`)",
        state_emoji(card.state),
        state_name(card.state),
        escape(&card.cluster),
        escape(&card.proposal_id)
    );
    if let Some(detail) = &card.detail {
        head.push('\n');
        head.push_str(&escape(detail));
    }
    blocks.push(section(&escape_cut_markup(head)));

    let mut people = vec![format!("Requested by {}", user(&card.requester))];
    if let Some(by) = &card.decided_by {
        let verb = if card.state == CardState::Cancelled { "cancelled" } else { "approved" };
        people.push(format!("{verb} by {}", user(by)));
    }
    if let Some(job) = &card.job_id {
        people.push(format!("job `{}`", escape(job)));
    }
    if card.state == CardState::Proposed {
        people.push(format!("expires {}", escape(&card.expires_at)));
    }
    blocks.push(context(&people.join(" · ")));

    let mut changes = String::new();
    for line in card.changes.iter().take(SHOWN_CHANGES) {
        changes.push_str(&format!("• {}\n", escape(line)));
    }
    if card.changes.len() > SHOWN_CHANGES {
        changes.push_str(&format!("• … and {} more\n", card.changes.len() - SHOWN_CHANGES));
    }
    changes.push_str(&format!("*Plan:* {}\n*Plan hash:* `{}`", escape(&card.summary), escape(&card.plan_hash)));
    blocks.push(section(&escape_cut_markup(changes)));

    if !card.plan_excerpt.is_empty() {
        blocks.push(section(&code_block(&card.plan_excerpt)));
    }
    if let Some(link) = card.plan_url.as_deref().and_then(link) {
        blocks.push(section(&format!("<{link}|The whole plan>")));
    }
    if card.state == CardState::Proposed && card.proposal_id.len() <= BUTTON_VALUE {
        let confirm = format!(
            "Apply plan `{}` to *{}*? It applies exactly this plan, or nothing.",
            escape(&card.plan_hash),
            escape(&card.cluster)
        );
        let approve = button(
            "approve",
            "Approve",
            &card.proposal_id,
            ButtonStyle::Primary,
            Some(("Approve this change?", &confirm, "Approve")),
        );
        let cancel = button("cancel", "Cancel", &card.proposal_id, ButtonStyle::Danger, None);
        blocks.push(json!({ "type": "actions", "elements": [approve, cancel] }));
    }
}

/// `reply.buttons` as actions blocks of at most [`MAX_ACTIONS`] each.
fn button_blocks(buttons: &[Button]) -> Vec<Value> {
    let usable: Vec<&Button> = buttons.iter().filter(|b| b.value.len() <= BUTTON_VALUE).collect();
    usable
        .chunks(MAX_ACTIONS)
        .map(|chunk| {
            let mut seen: Vec<&str> = Vec::new();
            let elements: Vec<Value> = chunk
                .iter()
                .map(|b| {
                    let id = b.action.id();
                    let n = seen.iter().filter(|s| **s == id).count();
                    seen.push(id);
                    let action_id = if n == 0 { id.to_owned() } else { format!("{id}:{n}") };
                    let confirm = b.confirm.as_ref().map(|q| {
                        let text = escape_cut(q, CONFIRM_TEXT).0;
                        ("Are you sure?", text, "Yes")
                    });
                    button(
                        &action_id,
                        &b.label,
                        &b.value,
                        b.style,
                        confirm.as_ref().map(|(t, q, y)| (*t, q.as_str(), *y)),
                    )
                })
                .collect();
            json!({ "type": "actions", "elements": elements })
        })
        .collect()
}

/// A button; `confirm` is the dialog's (title, mrkdwn question, confirm label), the
/// question already escaped.
fn button(action_id: &str, label: &str, value: &str, style: ButtonStyle, confirm: Option<(&str, &str, &str)>) -> Value {
    let mut b = json!({
        "type": "button",
        "action_id": action_id,
        "text": plain(&escape_cut(label, BUTTON_TEXT).0),
        "value": value,
    });
    match style {
        ButtonStyle::Default => {}
        ButtonStyle::Primary => b["style"] = "primary".into(),
        ButtonStyle::Danger => b["style"] = "danger".into(),
    }
    if let Some((title, text, yes)) = confirm {
        b["confirm"] = json!({
            "title": plain(title),
            "text": { "type": "mrkdwn", "text": text },
            "confirm": plain(yes),
            "deny": plain("Back"),
        });
    }
    b
}

fn plain(text: &str) -> Value {
    json!({ "type": "plain_text", "text": text, "emoji": true })
}

fn section(mrkdwn: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": mrkdwn } })
}

fn context(mrkdwn: &str) -> Value {
    json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": mrkdwn }] })
}

/// A chat user: a Slack mention when `id` is a Slack user id, else the id as text.
fn user(id: &str) -> String {
    let looks_like_slack = id.len() <= 32
        && id.len() >= 3
        && id.starts_with(['U', 'W'])
        && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if looks_like_slack { format!("<@{id}>") } else { format!("`{}`", escape(id)) }
}

/// The plan's URL, fit to be put in `<URL|label>`: http(s) only, and none of the
/// characters that end Slack's link syntax.
fn link(url: &str) -> Option<String> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= SECTION_TEXT - 32
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| escape(url).replace('|', "%7C"))
}

/// A preformatted text as a code block of one section, cut to fit (and saying so).
fn code_block(text: &str) -> String {
    // Room for the fences, the newlines and the note; a fence inside the text would end
    // the block early, so it is broken with a zero-width space.
    let text = text.replace("```", "``\u{200b}`");
    let budget = SECTION_TEXT - "```\n\n```".len() - CUT_NOTE.len() - 1;
    let (mut body, cut) = escape_cut(&text, budget);
    if cut && let Some(nl) = body.rfind('\n') {
        body.truncate(nl);
    }
    let body = body.trim_end_matches('\n');
    if cut { format!("```\n{body}\n```\n{CUT_NOTE}") } else { format!("```\n{body}\n```") }
}

/// `text` escaped ([`escape`]) and cut to at most `max` characters; whether it was cut.
/// An entity is never cut in half.
pub fn escape_cut(text: &str, max: usize) -> (String, bool) {
    let mut out = String::new();
    let mut len = 0;
    for c in text.chars() {
        let piece = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            _ => "",
        };
        let width = if piece.is_empty() { 1 } else { piece.len() };
        if len + width > max {
            return (out, true);
        }
        len += width;
        if piece.is_empty() { out.push(c) } else { out.push_str(piece) }
    }
    (out, false)
}

/// Text bosun composed of escaped parts, cut to a section's size (with a note).
fn escape_cut_markup(text: String) -> String {
    if text.chars().count() <= SECTION_TEXT {
        return text;
    }
    let keep = SECTION_TEXT - CUT_NOTE.len() - 1;
    let mut cut: String = text.chars().take(keep).collect();
    // Never end inside an entity.
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    format!("{cut}\n{CUT_NOTE}")
}

/// `text` with `&`, `<` and `>` as Slack's entities: Slack reads `<...>` as a mention,
/// a channel, a link or a command (`<!here>`), and `&` starts an entity.
pub fn escape(text: &str) -> String {
    escape_cut(text, usize::MAX).0
}

fn state_emoji(state: CardState) -> &'static str {
    match state {
        CardState::Proposed => ":hourglass_flowing_sand:",
        CardState::Approved => ":thumbsup:",
        CardState::Running => ":arrows_counterclockwise:",
        CardState::Succeeded => ":white_check_mark:",
        CardState::RolledBack => ":rewind:",
        CardState::Failed => ":x:",
        CardState::Cancelled => ":no_entry_sign:",
        CardState::Expired => ":alarm_clock:",
        CardState::Stale => ":warning:",
    }
}

fn state_name(state: CardState) -> &'static str {
    match state {
        CardState::Proposed => "Proposed",
        CardState::Approved => "Approved",
        CardState::Running => "Running",
        CardState::Succeeded => "Succeeded",
        CardState::RolledBack => "Rolled back",
        CardState::Failed => "Failed",
        CardState::Cancelled => "Cancelled",
        CardState::Expired => "Expired",
        CardState::Stale => "Stale",
    }
}

/// One short line for a card's progress (a thread reply under the card): its state,
/// and who decided or what went wrong.
pub fn progress_line(card: &Card) -> String {
    let mut line = format!("{} *{}*: *{}*", state_emoji(card.state), state_name(card.state), escape(&card.cluster));
    match (card.state, &card.decided_by, &card.detail) {
        (_, _, Some(detail)) if card.state.is_final() => line.push_str(&format!(": {}", escape(detail))),
        (CardState::Approved | CardState::Cancelled, Some(by), _) => line.push_str(&format!(" by {}", user(by))),
        _ => {}
    }
    if let Some(job) = &card.job_id {
        line.push_str(&format!(" (job `{}`)", escape(job)));
    }
    escape_cut_markup(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Action;

    fn card(state: CardState) -> Card {
        Card {
            proposal_id: "p-0193a5c2".into(),
            cluster: "demo".into(),
            state,
            requester: "U024BE7LH".into(),
            decided_by: None,
            changes: vec!["web: nginx:1.27 -> nginx:1.28".into(), "worker: 2 -> 4 tasks".into()],
            summary: "0 to create, 2 to update, 0 to replace, 0 to delete".into(),
            plan_hash: "sha256:9f2c4e1a".into(),
            plan_excerpt: "~ service web\n    image: nginx:1.27 -> nginx:1.28\n".into(),
            plan_url: Some("https://bosun.example.com/ui/clusters/demo/plan?p=p-0193a5c2".into()),
            job_id: None,
            detail: None,
            expires_at: "2026-11-27T18:00:00Z".into(),
        }
    }

    #[test]
    fn proposal_card() {
        let reply = Reply { card: Some(card(CardState::Proposed)), ..Reply::public("Proposed: deploy to *demo*") };
        insta::assert_json_snapshot!(message(&reply));
    }

    #[test]
    fn final_card() {
        let mut c = card(CardState::Succeeded);
        c.decided_by = Some("U0G9QF9C6".into());
        c.job_id = Some("0193a5c3-77aa".into());
        c.plan_url = None;
        let reply = Reply { card: Some(c), ..Reply::public("") };
        insta::assert_json_snapshot!(message(&reply));
    }

    #[test]
    fn private_error() {
        let reply = Reply::private("unknown cluster `prod-<eu>`: did you mean `prod-eu`?")
            .with_body("deploy [to] CLUSTER SVC:TAG[,SVC:TAG...]\n         ^^^^^^^");
        insta::assert_json_snapshot!(message(&reply));
    }

    #[test]
    fn tags_reply() {
        let buttons = ["1.28", "1.27.3", "1.27"]
            .iter()
            .map(|t| Button {
                label: (*t).into(),
                action: Action::Run,
                value: format!("deploy demo web:{t}"),
                style: ButtonStyle::Default,
                confirm: None,
            })
            .collect();
        let reply = Reply { buttons, ..Reply::public("The newest tags of *web* in *demo*:") };
        insta::assert_json_snapshot!(message(&reply));
    }

    #[test]
    fn user_text_cannot_mention_or_link() {
        let mut c = card(CardState::Failed);
        c.detail = Some("<!channel> see <https://evil.example|this> & that".into());
        c.requester = "<!here>".into();
        c.decided_by = Some("U1> <!everyone".into());
        c.changes = vec!["<@U999>".into()];
        let reply = Reply { card: Some(c), ..Reply::public("<!subteam^S1> hi") }.with_body("<!channel>");
        let text = message(&reply).to_string();
        for injected in ["<!", "<@U999", "<@U1", "<https://evil"] {
            assert!(!text.contains(injected), "{injected} got through: {text}");
        }
        assert!(text.contains("&lt;!channel&gt; see &lt;https://evil.example|this&gt; &amp; that"), "{text}");
    }

    #[test]
    fn limits_are_kept() {
        let long = "x".repeat(10_000);
        let buttons: Vec<Button> = (0..2000)
            .map(|i| Button {
                label: format!("{i}{long}"),
                action: Action::Run,
                value: format!("deploy demo web:{i}"),
                style: ButtonStyle::Default,
                confirm: Some(long.clone()),
            })
            .collect();
        let mut c = card(CardState::Proposed);
        c.changes = vec![long.clone(); 100];
        c.plan_excerpt = format!("{}\n", "<line> & more\n".repeat(1000));
        c.detail = Some("&".repeat(5000));
        let reply = Reply { card: Some(c), buttons, ..Reply::public(long.clone()) }.with_body(long.clone());
        let msg = message(&reply);
        let blocks = msg["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert!(msg["text"].as_str().unwrap().chars().count() <= SECTION_TEXT);
        for b in blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= SECTION_TEXT, "{} chars", t.chars().count());
                assert!(!t.ends_with('&'), "an entity was cut: {}", &t[t.len() - 20..]);
            }
            if b["type"] == "actions" {
                let elements = b["elements"].as_array().unwrap();
                assert!(elements.len() <= MAX_ACTIONS);
                let mut ids: Vec<&str> = elements.iter().map(|e| e["action_id"].as_str().unwrap()).collect();
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), elements.len(), "action ids repeat in a block");
                for e in elements {
                    assert!(e["text"]["text"].as_str().unwrap().chars().count() <= BUTTON_TEXT);
                    assert!(e["value"].as_str().unwrap().len() <= BUTTON_VALUE);
                }
            }
        }
        let excerpt = blocks.iter().find(|b| b["text"]["text"].as_str().is_some_and(|t| t.contains("&lt;line&gt;")));
        assert!(excerpt.unwrap()["text"]["text"].as_str().unwrap().ends_with("```\n_(cut)_"));
    }

    #[test]
    fn only_a_waiting_card_has_buttons() {
        for state in [CardState::Approved, CardState::Running, CardState::Cancelled, CardState::Stale] {
            let msg = message(&Reply { card: Some(card(state)), ..Reply::public("x") });
            assert!(!msg.to_string().contains("\"actions\""), "{state:?}");
        }
        let msg = message(&Reply { card: Some(card(CardState::Proposed)), ..Reply::public("x") });
        let actions = msg["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").unwrap();
        assert_eq!(actions["elements"][0]["value"], "p-0193a5c2");
        assert_eq!(actions["elements"][1]["value"], "p-0193a5c2");
    }

    #[test]
    fn progress_lines() {
        let mut c = card(CardState::Approved);
        c.decided_by = Some("U0G9QF9C6".into());
        assert_eq!(progress_line(&c), ":thumbsup: *Approved*: *demo* by <@U0G9QF9C6>");
        c.state = CardState::Failed;
        c.detail = Some("service web: <boom>".into());
        c.job_id = Some("j1".into());
        assert_eq!(progress_line(&c), ":x: *Failed*: *demo*: service web: &lt;boom&gt; (job `j1`)");
    }
}
