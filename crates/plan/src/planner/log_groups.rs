//! The CloudWatch Logs groups of `logging.create_group`: created with bosun's tags, their
//! retention kept. A group bosun did not create is a conflict, never changed. A group the
//! stackfile no longer asks for is left in place with its logs (they are data), even
//! under `prune`: bosun stops managing it.

use crate::fields::LogGroupField;
use crate::types::{Action, FieldChange, Kind, Step};

use super::Planner;

/// How plan text shows a retention.
fn show(days: Option<i32>) -> String {
    days.map_or_else(|| "forever".to_owned(), |d| format!("{d} days"))
}

impl Planner<'_> {
    pub(super) fn log_groups(&mut self) {
        for group in self.desired.log_groups.values() {
            let service = group.services.first().map(String::as_str);
            match self.observed.log_groups.get(&group.name) {
                None => {
                    let change = self.out.push(
                        Kind::LogGroup,
                        &group.name,
                        Action::Create,
                        service,
                        Step::CreateLogGroup { spec: group.clone() },
                    );
                    change.fields.push(FieldChange::new(LogGroupField::RetentionDays, "", show(group.retention_days)));
                }
                Some(live) if !live.owner.is_owned_by(self.cluster) => {
                    let reason = format!(
                        "log group {} exists and was not created by bosun for cluster {}; remove `create_group` (and `retention_days`) to log to it as it is, or delete it",
                        group.name, self.cluster
                    );
                    self.out.conflict(Kind::LogGroup, &group.name, reason);
                }
                Some(live) if live.retention_days != group.retention_days => {
                    let change = self.out.push(
                        Kind::LogGroup,
                        &group.name,
                        Action::Update,
                        service,
                        Step::PutRetentionPolicy { name: group.name.clone(), retention_days: group.retention_days },
                    );
                    change.fields.push(FieldChange::new(
                        LogGroupField::RetentionDays,
                        show(live.retention_days),
                        show(group.retention_days),
                    ));
                }
                Some(_) => {}
            }
        }
    }
}
