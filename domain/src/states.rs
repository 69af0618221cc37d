//! States stored as text, sent as JSON strings and listed as enums in the OpenAPI document.

/// Declares a state enum stored and sent as its snake_case name, with `as_str`, `ALL`, `Display`
/// and `FromStr` that agree with serde and sqlx by construction.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        // Stored as its text on any engine: written by hand because sqlx's derive implements only
        // the concrete drivers, not the run-time `Any` pool the db crate uses.
        #[cfg(feature = "sqlx")]
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&'r str as sqlx::Decode<'r, DB>>::decode(value)?.parse()?)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownState;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownState {
                        kind: stringify!($name),
                        value: other.to_owned(),
                    }),
                }
            }
        }
    };
}

/// A stored or requested state this build does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState {
    pub kind: &'static str,
    pub value: String,
}

impl std::fmt::Display for UnknownState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownState {}

text_enum! {
    /// A retraining job's life: queued -> running -> completed (its model now serves), rejected
    /// (its model kept as a candidate) or failed.
    pub enum SessionStatus {
        Queued => "queued",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Rejected => "rejected",
    }
}

text_enum! {
    /// Which pending training images a retraining job learns from: bulk uploads, reviewers'
    /// corrections of predictions, or both.
    pub enum TrainingSources {
        Both => "both",
        Uploads => "uploads",
        Feedback => "feedback",
    }
}

text_enum! {
    /// What `GET /retrain/status` reports: `idle` before the first job, then the newest job's status.
    pub enum RetrainState {
        Idle => "idle",
        Queued => "queued",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Rejected => "rejected",
    }
}

impl From<SessionStatus> for RetrainState {
    fn from(status: SessionStatus) -> Self {
        match status {
            SessionStatus::Queued => RetrainState::Queued,
            SessionStatus::Running => RetrainState::Running,
            SessionStatus::Completed => RetrainState::Completed,
            SessionStatus::Failed => RetrainState::Failed,
            SessionStatus::Rejected => RetrainState::Rejected,
        }
    }
}

text_enum! {
    /// Where a running job is, in the order it goes through them.
    pub enum JobPhase {
        /// Accepted; the worker has not started it yet.
        Queued => "queued",
        /// Decoding and resizing the uploads, the replay sample and the validation images.
        Preprocessing => "preprocessing",
        /// Scoring the serving model, then the epochs at the full fine-tuning rate.
        Training => "training",
        /// The last `fine_tune_epochs`, as the learning rate decays.
        FineTuning => "fine_tuning",
        /// Writing the new version and deciding whether it serves.
        Saving => "saving",
    }
}

text_enum! {
    /// A model version: a `candidate` until activated, then `active` (exactly one serves) and
    /// `archived` once another one replaces it.
    pub enum ModelStatus {
        Candidate => "candidate",
        Active => "active",
        Archived => "archived",
    }
}

text_enum! {
    /// How an audited action ended.
    pub enum AuditOutcome {
        Ok => "ok",
        /// Not allowed: no credentials, the wrong role, another site, or a wrong password.
        Refused => "refused",
        /// Allowed, but it did not succeed.
        Failed => "failed",
    }
}

impl AuditOutcome {
    /// `Ok` for a success, `Failed` for an error.
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            AuditOutcome::Ok
        } else {
            AuditOutcome::Failed
        }
    }
}

text_enum! {
    /// How a batch of preprocessing ended (the `preprocessing_logs` table).
    pub enum PreprocessingStatus {
        Completed => "completed",
        Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text in the database, the JSON and `as_str` are the same word for every state.
    fn round_trips<T>(all: &[T])
    where
        T: Copy + std::fmt::Debug + PartialEq + std::fmt::Display + std::str::FromStr,
        T: serde::Serialize + serde::de::DeserializeOwned,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for state in all {
            let text = state.to_string();
            let json = serde_json::to_string(state).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *state);
            assert_eq!(text.parse::<T>().unwrap(), *state);
        }
    }

    #[test]
    fn every_state_has_one_spelling() {
        round_trips(SessionStatus::ALL);
        round_trips(RetrainState::ALL);
        round_trips(JobPhase::ALL);
        round_trips(ModelStatus::ALL);
        round_trips(AuditOutcome::ALL);
        round_trips(PreprocessingStatus::ALL);
        assert_eq!(JobPhase::FineTuning.as_str(), "fine_tuning");
    }

    #[test]
    fn unknown_text_is_an_error_naming_the_kind() {
        let error = "paused".parse::<SessionStatus>().unwrap_err();
        assert_eq!(error.to_string(), "unknown SessionStatus \"paused\"");
    }

    #[test]
    fn each_session_status_maps_to_the_status_report() {
        for status in SessionStatus::ALL {
            assert_eq!(RetrainState::from(*status).as_str(), status.as_str());
        }
    }
}
