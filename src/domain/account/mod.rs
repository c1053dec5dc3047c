//! The account aggregate: identity, credentials, profile, privacy, role, status and the
//! account's sessions. One `account` stream per account; its id is the account id.

mod commands;
mod decide;
mod events;
mod evolve;
#[cfg(test)]
mod factor_tests;
mod factors;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{AccountCommand, Identifier, Proof, SessionsToEnd};
pub use decide::{AccountError, decide};
pub use events::{
    AccountEvent, IdentifierKind, ProfileChanges, SealedPasswordHash, SessionEndReason,
    SignInFailure, SignInMethod,
};
pub use factors::{
    PASSKEYS_PER_ACCOUNT, PasskeyCredential, PasskeyName, RECOVERY_CODES_PER_SET, RecoveryCodeHash,
    RegisteredPasskey, STEP_UP_WINDOW, SealedTotpSecret, SecondFactor, SecondFactorMethod,
    SecondFactors, StepUp,
};
pub use state::{Account, AccountStatus, Privacy, Profile, Role};

impl super::Aggregate for Account {
    const STREAM_TYPE: &'static str = "account";
    const STATE_SOURCES: &'static [&'static str] = &[
        include_str!("state.rs"),
        include_str!("evolve.rs"),
        include_str!("events.rs"),
        include_str!("factors.rs"),
    ];
    type Event = AccountEvent;
    type Command = AccountCommand;
    type Error = AccountError;

    fn decide(&self, command: AccountCommand) -> Result<Vec<Self::Event>, AccountError> {
        decide(self, command)
    }

    fn evolve(self, event: &AccountEvent) -> Self {
        evolve::evolve(self, event)
    }
}
