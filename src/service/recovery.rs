//! Flows proven by a one-time code or a mailed link: sign-in by code, password reset, email
//! verification, change of email, and deletion by code.

use super::accounts::SignedIn;
use super::codes::{CodeProof, Target};
use super::executor::{CommandMetadata, Committed};
use super::{ServiceError, Services};
use crate::domain::account::{Account, AccountCommand, IdentifierKind, NewIdentifier, Proof};
use crate::domain::code::Purpose;
use crate::domain::values::{Email, Password, Phone};
use crate::store::claims::{self, ClaimKind};
use crate::store::sessions::ActiveSession;
use uuid::Uuid;

impl Services {
    /// Signs in with a code sent to the account's email address.
    pub async fn sign_in_with_code(
        &self,
        target: &Target,
        code: &str,
        metadata: &CommandMetadata,
    ) -> Result<SignedIn, ServiceError> {
        let proof = CodeProof::Code {
            target: target.clone(),
            code: code.to_owned(),
        };
        let (target, account_id) = self
            .proven_account(&proof, Purpose::SignIn, true, metadata)
            .await?;
        let kind = target.identifier_kind();
        self.start_session(account_id, None, Proof::Code, kind, self.now(), metadata)
            .await
    }

    /// Signs in with a texted `sign_in` code, or, when no account has the phone, signs up
    /// with it (no password), under the same per-address sign-up limit as `sign_up`
    /// (`CaptchaRequired` past it without a solved `captcha`). Returns whether the account is
    /// new.
    pub async fn sign_in_or_up_by_sms(
        &self,
        phone: &Phone,
        code: &str,
        captcha: Option<&str>,
        metadata: &CommandMetadata,
    ) -> Result<(SignedIn, bool), ServiceError> {
        let target = Target::phone(phone);
        // A new phone signs up: it counts against the address's sign-ups like any other, and
        // is refused before its code is spent.
        if self.holder_of(&target).await?.is_none() {
            self.admit_sign_up(captcha, metadata).await?;
        }
        let proof = CodeProof::Code {
            target,
            code: code.to_owned(),
        };
        let (target, _) = self
            .check_proof(&proof, Purpose::SignIn, true, metadata)
            .await?;
        let now = self.now();
        if let Some(account_id) = self.holder_of(&target).await? {
            let signed_in = self
                .start_session(
                    account_id,
                    None,
                    Proof::Code,
                    IdentifierKind::Phone,
                    now,
                    metadata,
                )
                .await?;
            return Ok((signed_in, false));
        }
        let register = AccountCommand::Register {
            identifier: NewIdentifier::Phone(phone.clone()),
            password: None,
            email_verified: false,
            display_name: None,
            now,
        };
        let signed_in = self
            .start_session(
                Uuid::now_v7(),
                Some(register),
                Proof::Code,
                IdentifierKind::Phone,
                now,
                metadata,
            )
            .await?;
        Ok((signed_in, true))
    }

    /// Asks for a password reset: a code and a link to the address, if an account has it. The
    /// answer is the same either way.
    pub async fn request_password_reset(
        &self,
        target: &Target,
        locale: &str,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        self.send_code(target, Purpose::ResetPassword, locale, metadata)
            .await
    }

    /// Sets a new password, proven by a reset code or link; every session ends.
    pub async fn reset_password(
        &self,
        proof: &CodeProof,
        new_password: &str,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        // Refuse a weak password before spending the code.
        let context: Vec<&str> = match proof {
            CodeProof::Code { target, .. } => vec![target.value.as_str()],
            CodeProof::Link { .. } => Vec::new(),
        };
        let password = Password::parse(new_password, &context)
            .map_err(|invalid| ServiceError::invalid("new_password", invalid))?;
        let (target, account_id) = self
            .proven_account(proof, Purpose::ResetPassword, true, metadata)
            .await?;
        let sealed = self.hasher.hash(&password).await?;
        let committed = self
            .run_account_command(account_id, metadata, |_| AccountCommand::ResetPassword {
                new_password: sealed.clone(),
                proven: target.identifier_kind(),
                now: self.now(),
            })
            .await?;
        Ok(committed.position)
    }

    /// Sends the caller a verification mail (code and link) to their email address.
    pub async fn request_email_verification(
        &self,
        caller: ActiveSession,
        locale: &str,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        let account = self.account(caller.account_id).await?.state;
        let email = account.email.as_ref().ok_or(ServiceError::NoEmail)?;
        if account.email_verified {
            return Err(ServiceError::EmailAlreadyVerified);
        }
        let target = Target::email(email);
        self.send_code(&target, Purpose::VerifyEmail, locale, metadata)
            .await
    }

    /// Marks the address verified, proven by the code or link sent to it. The first proof
    /// removes the password and ends every session unless `password` is given and is the
    /// account's (pre-account hijacking: whoever signed up may not own the address). The
    /// password is checked only after the code or link (which is not spent yet), so that it
    /// answers nothing to whoever lacks the mailbox; a wrong one is counted like every
    /// re-check and leaves the code unspent.
    pub async fn confirm_email(
        &self,
        proof: &CodeProof,
        password: Option<&str>,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        let verified_password = match password {
            Some(password) => {
                let (_, account_id) = self
                    .proven_account(proof, Purpose::VerifyEmail, false, metadata)
                    .await?;
                let account = self.account(account_id).await?.state;
                Some(self.verify_password(account_id, &account, password).await?)
            }
            None => None,
        };
        let (target, account_id) = self
            .proven_account(proof, Purpose::VerifyEmail, true, metadata)
            .await?;
        let email = Email::parse(&target.value)
            .map_err(|invalid| ServiceError::invalid("email", invalid))?;
        let committed = self
            .run_account_command(account_id, metadata, |_| AccountCommand::VerifyEmail {
                email: email.clone(),
                verified_password: verified_password.clone(),
                now: self.now(),
            })
            .await?;
        Ok(committed.position)
    }

    /// Moves the caller to a new email address, proven by a code sent to it and, when the
    /// current address is verified, by a code sent to that one or the password.
    pub async fn change_email(
        &self,
        caller: ActiveSession,
        email: &Email,
        code: &str,
        current: CurrentEmailProof<'_>,
        metadata: &CommandMetadata,
    ) -> Result<Committed<Account>, ServiceError> {
        let target = Target::email(email);
        if let Some(holder) = self.holder_of(&target).await? {
            if holder != caller.account_id {
                return Err(ServiceError::IdentifierTaken(ClaimKind::Email));
            }
        }
        // A session alone does not move a proven address away: that would hand whoever stole
        // the session the account, through a reset to the new address.
        let account = self.account(caller.account_id).await?.state;
        self.prove_current_way_in(caller, &account, current, Purpose::ChangeEmail, metadata)
            .await?;
        let proof = CodeProof::Code {
            target,
            code: code.to_owned(),
        };
        self.check_proof(&proof, Purpose::ChangeEmail, true, metadata)
            .await?;
        self.run_account_command(
            caller.account_id,
            &metadata.with_actor(caller.account_id),
            |_| AccountCommand::ChangeEmail {
                email: email.clone(),
                now: self.now(),
            },
        )
        .await
    }

    /// Moves the caller to a new phone number, proven by a code texted to it and, when the
    /// account has a phone, by one texted to the old number too. At most
    /// `MAX_PHONE_CHANGES_PER_30_DAYS` changes in 30 days.
    pub async fn change_phone(
        &self,
        caller: ActiveSession,
        phone: &Phone,
        code: &str,
        current_phone_code: Option<&str>,
        current: CurrentEmailProof<'_>,
        metadata: &CommandMetadata,
    ) -> Result<Committed<Account>, ServiceError> {
        let account = self.account(caller.account_id).await?.state;
        // Refused before any code is spent (the account decides it again).
        if account.email_unproven() {
            return Err(ServiceError::EmailNotVerified);
        }
        let target = Target::phone(phone);
        if let Some(holder) = self.holder_of(&target).await? {
            if holder != caller.account_id {
                return Err(ServiceError::IdentifierTaken(ClaimKind::Phone));
            }
        }
        match &account.phone {
            Some(current) => {
                let Some(current_code) = current_phone_code else {
                    return Err(ServiceError::required(
                        "current_phone_code",
                        "a code texted to the current number is needed",
                    ));
                };
                let old = CodeProof::Code {
                    target: Target::phone(current),
                    code: current_code.to_owned(),
                };
                self.check_proof(&old, Purpose::ChangePhone, true, metadata)
                    .await?;
            }
            // A first phone is a new way in (sign-in and reset by text): a session alone
            // does not add one.
            None => {
                self.prove_current_way_in(
                    caller,
                    &account,
                    current,
                    Purpose::ChangePhone,
                    metadata,
                )
                .await?;
            }
        }
        let new = CodeProof::Code {
            target,
            code: code.to_owned(),
        };
        self.check_proof(&new, Purpose::ChangePhone, true, metadata)
            .await?;
        self.run_account_command(
            caller.account_id,
            &metadata.with_actor(caller.account_id),
            |_| AccountCommand::ChangePhone {
                phone: phone.clone(),
                now: self.now(),
            },
        )
        .await
    }

    /// Proves, before a session moves or adds a way into the account, that the caller also
    /// holds one it has: a code for `purpose` mailed to its verified address, or its password.
    /// An account with neither (a phone-only account, whose phone is proven instead) needs
    /// nothing more.
    async fn prove_current_way_in(
        &self,
        caller: ActiveSession,
        account: &Account,
        proof: CurrentEmailProof<'_>,
        purpose: Purpose,
        metadata: &CommandMetadata,
    ) -> Result<(), ServiceError> {
        let verified_email = account.email.as_ref().filter(|_| account.email_verified);
        match (proof, verified_email) {
            (
                CurrentEmailProof {
                    code: Some(code), ..
                },
                Some(email),
            ) => {
                let old = CodeProof::Code {
                    target: Target::email(email),
                    code: code.to_owned(),
                };
                self.check_proof(&old, purpose, true, metadata).await?;
            }
            (
                CurrentEmailProof {
                    password: Some(password),
                    ..
                },
                _,
            ) if account.password.is_some() => {
                self.verify_password(caller.account_id, account, password)
                    .await?;
            }
            (_, Some(_)) => {
                return Err(ServiceError::required(
                    "current_email_code",
                    "a code sent to the current address (or the password) is needed",
                ));
            }
            (_, None) if account.password.is_some() => {
                return Err(ServiceError::required(
                    "password",
                    "the account's password is needed",
                ));
            }
            (_, None) => {}
        }
        Ok(())
    }

    /// Deletes the caller's account, confirmed by a code sent to its email address.
    pub async fn delete_account_with_code(
        &self,
        caller: ActiveSession,
        code: &str,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        let account = self.account(caller.account_id).await?.state;
        let email = account.email.as_ref().ok_or(ServiceError::CodeInvalid)?;
        let proof = CodeProof::Code {
            target: Target::email(email),
            code: code.to_owned(),
        };
        self.check_proof(&proof, Purpose::DeleteAccount, true, metadata)
            .await?;
        let committed = self
            .run_account_command(
                caller.account_id,
                &metadata.with_actor(caller.account_id),
                |_| AccountCommand::Delete {
                    proof: Proof::Code,
                    now: self.now(),
                },
            )
            .await?;
        Ok(committed.position)
    }

    /// Checks (with `consume`, spends) a code or link for `purpose` and returns where it was
    /// sent and the account holding that target (`CodeInvalid` when none does).
    async fn proven_account(
        &self,
        proof: &CodeProof,
        purpose: Purpose,
        consume: bool,
        metadata: &CommandMetadata,
    ) -> Result<(Target, Uuid), ServiceError> {
        let (target, _) = self.check_proof(proof, purpose, consume, metadata).await?;
        let account_id = self
            .holder_of(&target)
            .await?
            .ok_or(ServiceError::CodeInvalid)?;
        Ok((target, account_id))
    }

    async fn holder_of(&self, target: &Target) -> Result<Option<Uuid>, ServiceError> {
        let client = self.pool.get().await?;
        Ok(claims::holder(&client, target.claim_kind(), &target.value).await?)
    }
}

/// What proves the caller still controls the current email address when moving to another:
/// a `change_email` code sent to it, or the account's password.
#[derive(Debug, Clone, Copy, Default)]
pub struct CurrentEmailProof<'a> {
    /// A code sent to the current address.
    pub code: Option<&'a str>,
    /// The account's password.
    pub password: Option<&'a str>,
}
