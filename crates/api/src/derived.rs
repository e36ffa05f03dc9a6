//! What the API derives from a stackfile (its JSON rendering, its validated desired
//! state), kept for the last version of each cluster so an unchanged stackfile is not
//! parsed again on every request.
//!
//! This is not a cache of S3: every request still reads the current version, and an
//! entry is used only when its text equals the text just read, byte for byte. What is
//! served is therefore always what computing it afresh would give, whoever wrote the
//! object. The text is the key rather than the ETag because both products are a pure
//! function of the text, and comparing a stackfile is cheaper than parsing one.
//!
//! The redacted renderings ([`crate::redact`]) are kept apart from the full ones, so
//! what was made for one reader is never served to a reader with fewer rights.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bosun_stackfile::{Desired, Diagnostics};
use bytes::Bytes;

/// One entry per cluster: the last version a request read or wrote. Bounded by the
/// clusters an installation has, like the write locks; each entry holds a stackfile
/// (at most the body limit) and what was derived from it.
#[derive(Debug, Default)]
pub struct Derived {
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

#[derive(Debug)]
struct Entry {
    /// The version's text: what an entry is looked up by.
    text: String,
    /// `GET .../config` as JSON; made on first use.
    json: OnceLock<Bytes>,
    /// The same with environment values and webhook URLs redacted.
    json_redacted: OnceLock<Bytes>,
    /// `GET .../config` as YAML for a reader who gets redacted views.
    yaml_redacted: OnceLock<Bytes>,
    /// The validated desired state (for cluster `cluster` of the map key); made on
    /// first use, or given by the write that validated the text.
    desired: OnceLock<Arc<Desired>>,
}

impl Derived {
    /// The entry of `cluster` for `text`: the current one when its text is `text`, else
    /// a new, empty one that replaces it.
    fn entry(&self, cluster: &str, text: &str) -> Arc<Entry> {
        let mut entries = self.entries.lock().expect("the entry map is never poisoned");
        match entries.get(cluster) {
            Some(e) if e.text == text => e.clone(),
            _ => {
                let e = Arc::new(Entry {
                    text: text.to_owned(),
                    json: OnceLock::new(),
                    json_redacted: OnceLock::new(),
                    yaml_redacted: OnceLock::new(),
                    desired: OnceLock::new(),
                });
                entries.insert(cluster.to_owned(), e.clone());
                e
            }
        }
    }

    /// The JSON rendering of `text`, cluster `cluster`'s stackfile; redacted or not.
    pub fn json(&self, cluster: &str, text: &str, redacted: bool) -> Result<Bytes, Diagnostics> {
        use bosun_stackfile::document::{to_json_text, to_json_text_redacted};
        let entry = self.entry(cluster, text);
        if redacted {
            rendered(&entry.json_redacted, || to_json_text_redacted(text))
        } else {
            rendered(&entry.json, || to_json_text(text))
        }
    }

    /// The redacted YAML rendering of `text`, cluster `cluster`'s stackfile. (The full
    /// YAML is the text itself.)
    pub fn yaml_redacted(&self, cluster: &str, text: &str) -> Result<Bytes, Diagnostics> {
        let entry = self.entry(cluster, text);
        rendered(&entry.yaml_redacted, || bosun_stackfile::document::to_yaml_redacted(text))
    }

    /// The desired state of `text`, cluster `cluster`'s stackfile: loaded (parsed and
    /// validated) unless this text was loaded before.
    pub fn desired(&self, cluster: &str, text: &str) -> Result<Arc<Desired>, Diagnostics> {
        let entry = self.entry(cluster, text);
        if let Some(desired) = entry.desired.get() {
            return Ok(desired.clone());
        }
        let desired = Arc::new(bosun_stackfile::load(text, cluster)?);
        Ok(entry.desired.get_or_init(|| desired).clone())
    }

    /// Remember that `text`, just written as cluster `cluster`'s stackfile, loads to
    /// `desired`, so the next reader of that version does not validate it again.
    pub fn wrote(&self, cluster: &str, text: &str, desired: Desired) {
        let _ = self.entry(cluster, text).desired.set(Arc::new(desired));
    }
}

/// What `cell` holds, else what `render` makes, kept there. Outside any lock: two
/// first readers may both render, and either result is the same.
fn rendered(
    cell: &OnceLock<Bytes>,
    render: impl FnOnce() -> Result<String, Diagnostics>,
) -> Result<Bytes, Diagnostics> {
    if let Some(bytes) = cell.get() {
        return Ok(bytes.clone());
    }
    let bytes = Bytes::from(render()?);
    Ok(cell.get_or_init(|| bytes).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "services:\n  - web:\n      image: nginx:1\n";
    const TWO: &str = "services:\n  - web:\n      image: nginx:2\n";

    #[test]
    fn serves_what_the_text_renders_to_and_follows_new_versions() {
        let d = Derived::default();
        let first = d.json("prod", ONE, false).unwrap();
        assert_eq!(first, bosun_stackfile::document::to_json_text(ONE).unwrap());
        // The same version again: the same rendering, not a new one.
        assert_eq!(d.json("prod", ONE, false).unwrap().as_ptr(), first.as_ptr());
        // A new version replaces it; another cluster has its own entry.
        let second = d.json("prod", TWO, false).unwrap();
        assert_eq!(second, bosun_stackfile::document::to_json_text(TWO).unwrap());
        assert_eq!(d.json("dev", ONE, false).unwrap(), first);
        assert_eq!(d.json("prod", ONE, false).unwrap(), first);
    }

    #[test]
    fn desired_state_is_loaded_for_the_cluster_or_taken_from_the_write() {
        let d = Derived::default();
        let prod = d.desired("prod", ONE).unwrap();
        assert_eq!(*prod, bosun_stackfile::load(ONE, "prod").unwrap());
        let dev = d.desired("dev", ONE).unwrap();
        assert_eq!(dev.cluster, "dev");
        assert!(Arc::ptr_eq(&prod, &d.desired("prod", ONE).unwrap()));

        let written = bosun_stackfile::load(TWO, "prod").unwrap();
        d.wrote("prod", TWO, written.clone());
        assert_eq!(*d.desired("prod", TWO).unwrap(), written);
    }

    #[test]
    fn redacted_and_full_renderings_are_kept_apart() {
        let text = "services:\n  - web:\n      image: nginx:1\n      environment:\n        PASSWORD: hunter2\n";
        let d = Derived::default();
        // Whichever is asked first, each reader gets its own.
        let redacted = d.json("prod", text, true).unwrap();
        let full = d.json("prod", text, false).unwrap();
        assert!(!String::from_utf8_lossy(&redacted).contains("hunter2"));
        assert!(String::from_utf8_lossy(&full).contains("hunter2"));
        assert_eq!(d.json("prod", text, true).unwrap(), redacted);
        let yaml = d.yaml_redacted("prod", text).unwrap();
        assert!(!String::from_utf8_lossy(&yaml).contains("hunter2"), "{yaml:?}");
    }

    #[test]
    fn errors_are_not_kept() {
        let d = Derived::default();
        let bad = "services: [";
        assert!(d.json("prod", bad, false).is_err());
        assert!(d.desired("prod", bad).is_err());
        assert!(d.json("prod", bad, true).is_err());
    }
}
