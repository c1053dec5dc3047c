//! How each account event changes the account.

use super::events::AccountEvent;
use super::factors::RegisteredPasskey;
use super::state::{Account, AccountStatus};

/// Applies one event.
pub fn evolve(mut account: Account, event: &AccountEvent) -> Account {
    match event {
        AccountEvent::AccountRegistered {
            email,
            username,
            phone,
            display_name,
            password,
            role,
            at,
        } => {
            account.status = AccountStatus::Active;
            account.email = email.clone();
            account.username = username.clone();
            account.phone = phone.clone();
            // A phone signs up only with a code sent to it.
            account.phone_verified = phone.is_some();
            account.profile.display_name = display_name.clone();
            account.password = password.clone();
            account.role = *role;
            account.created_at = Some(*at);
            account.codes_valid_from = Some(*at);
        }
        AccountEvent::ProfileUpdated { changes, .. } => {
            let profile = &mut account.profile;
            let changes = changes.clone();
            if let Some(value) = changes.display_name {
                profile.display_name = value;
            }
            if let Some(value) = changes.avatar_url {
                profile.avatar_url = value;
            }
            if let Some(value) = changes.cover_url {
                profile.cover_url = value;
            }
            if let Some(value) = changes.bio {
                profile.bio = value;
            }
            if let Some(value) = changes.gender {
                profile.gender = value;
            }
            if let Some(value) = changes.birthday {
                profile.birthday = value;
            }
            if let Some(value) = changes.country {
                profile.country = value;
            }
            if let Some(value) = changes.province {
                profile.province = value;
            }
            if let Some(value) = changes.city {
                profile.city = value;
            }
        }
        AccountEvent::UsernameChanged { username, .. } => {
            account.username = Some(username.clone());
        }
        AccountEvent::PasswordChanged { password, at } => {
            account.password = Some(password.clone());
            account.codes_valid_from = Some(*at);
        }
        AccountEvent::UnverifiedPasswordRemoved { at } => {
            account.password = None;
            account.codes_valid_from = Some(*at);
        }
        AccountEvent::PrivacyChanged { privacy, .. } => account.privacy = *privacy,
        AccountEvent::SessionStarted {
            session_id,
            expires_at,
            passkey_id,
            at,
            ..
        } => {
            // Expired sessions need no event to end; forget them so the state stays small.
            account.live_sessions.retain(|_, expiry| *expiry > *at);
            account.live_sessions.insert(*session_id, *expires_at);
            let live = &account.live_sessions;
            account
                .session_passkeys
                .retain(|id, _| live.contains_key(id));
            if let Some(passkey_id) = passkey_id {
                account
                    .session_passkeys
                    .insert(*session_id, vec![*passkey_id]);
            }
        }
        AccountEvent::SessionsEnded { session_ids, .. } => {
            for id in session_ids {
                account.live_sessions.remove(id);
                account.session_passkeys.remove(id);
            }
        }
        AccountEvent::AccountDeleted { .. } => {
            account.deleted_while_blocked = account.status == AccountStatus::Blocked;
            account.status = AccountStatus::Deleted;
            account.live_sessions.clear();
            account.session_passkeys.clear();
        }
        AccountEvent::AccountRestored { .. } => {
            account.status = match account.deleted_while_blocked {
                true => AccountStatus::Blocked,
                false => AccountStatus::Active,
            };
            account.deleted_while_blocked = false;
        }
        // Only the facts stay: what the account was, not who.
        AccountEvent::PersonalDataErased { at } => {
            account = Account {
                status: AccountStatus::Erased,
                role: account.role,
                created_at: account.created_at,
                updated_at: Some(*at),
                ..Account::default()
            };
        }
        AccountEvent::AccountErased { .. } | AccountEvent::PersonalDataExported { .. } => {}
        // History only: the throttle that acts on failures is an inline table.
        AccountEvent::SignInFailed { .. } => {}
        AccountEvent::EmailVerified { .. } => account.email_verified = true,
        AccountEvent::RoleChanged { role, .. } => account.role = *role,
        AccountEvent::AccountBlocked { at } => {
            account.status = AccountStatus::Blocked;
            account.codes_valid_from = Some(*at);
        }
        AccountEvent::AccountUnblocked { .. } => account.status = AccountStatus::Active,
        AccountEvent::FeaturedChanged { featured, .. } => account.featured = *featured,
        AccountEvent::PhoneChanged { phone, at, .. } => {
            account.phone = Some(phone.clone());
            account.phone_verified = true;
            account
                .phone_changes
                .retain(|changed| *at - *changed < chrono::Duration::days(30));
            account.phone_changes.push(*at);
            account.codes_valid_from = Some(*at);
        }
        AccountEvent::EmailChanged { email, at, .. } => {
            account.email = Some(email.clone());
            account.email_verified = true;
            account.codes_valid_from = Some(*at);
        }
        // History only: the challenge itself is an inline row, the step-up's count a throttle's.
        AccountEvent::SecondFactorChallenged { .. } | AccountEvent::StepUpFailed { .. } => {}
        AccountEvent::StepUpProven {
            session_id,
            passkey_id: Some(passkey_id),
            ..
        } => {
            let used = account.session_passkeys.entry(*session_id).or_default();
            if !used.contains(passkey_id) {
                used.push(*passkey_id);
            }
        }
        AccountEvent::StepUpProven { .. } => {}
        AccountEvent::TotpEnrolmentStarted { secret, .. } => {
            // `decide` asked a step-up of an account that had a second factor.
            account.factors.totp_pending_stepped_up = account.factors.enabled();
            account.factors.totp_pending = Some(secret.clone());
        }
        AccountEvent::TotpEnabled { time_step, at } => {
            let factors = &mut account.factors;
            factors.totp = factors.totp_pending.take();
            factors.totp_pending_stepped_up = false;
            factors.totp_last_step = Some(*time_step);
            factors.enabled_at = Some(*at);
        }
        AccountEvent::TotpCodeUsed { time_step, .. } => {
            let last = &mut account.factors.totp_last_step;
            *last = Some(last.map_or(*time_step, |last| last.max(*time_step)));
        }
        AccountEvent::TotpEnrolmentCancelled { .. } => {
            account.factors.totp_pending = None;
            account.factors.totp_pending_stepped_up = false;
        }
        AccountEvent::TotpRemoved { .. } => {
            let factors = &mut account.factors;
            factors.totp = None;
            factors.totp_pending = None;
            factors.totp_pending_stepped_up = false;
            factors.totp_last_step = None;
            factors.enabled_at = None;
        }
        AccountEvent::RecoveryCodesGenerated { codes, .. } => {
            account.factors.recovery_codes = codes.iter().cloned().map(Some).collect();
        }
        AccountEvent::RecoveryCodeUsed { index, .. } => {
            if let Some(code) = account.factors.recovery_codes.get_mut(usize::from(*index)) {
                *code = None;
            }
        }
        AccountEvent::RecoveryCodesRevoked { .. } => account.factors.recovery_codes.clear(),
        AccountEvent::SecondFactorsReset { .. } => account.factors = Default::default(),
        AccountEvent::PasskeyRegistrationStarted { .. } => {}
        AccountEvent::PasskeyAdded {
            passkey_id,
            name,
            credential_id,
            credential,
            at,
        } => account.factors.passkeys.push(RegisteredPasskey {
            id: *passkey_id,
            name: name.clone(),
            credential_id: credential_id.clone(),
            credential: credential.clone(),
            sign_count: 0,
            created_at: *at,
            last_used_at: None,
        }),
        AccountEvent::PasskeyUsed {
            passkey_id,
            sign_count,
            at,
        } => {
            let passkeys = &mut account.factors.passkeys;
            if let Some(passkey) = passkeys.iter_mut().find(|p| p.id == *passkey_id) {
                passkey.sign_count = passkey.sign_count.max(*sign_count);
                passkey.last_used_at = Some(*at);
            }
        }
        AccountEvent::PasskeyRemoved { passkey_id, .. } => {
            account
                .factors
                .passkeys
                .retain(|passkey| passkey.id != *passkey_id);
        }
    }
    if let Some(at) = change_time(event) {
        account.updated_at = Some(at);
    }
    account
}

/// When the event changed the account itself; signing in and out does not.
fn change_time(event: &AccountEvent) -> Option<chrono::DateTime<chrono::Utc>> {
    match event {
        AccountEvent::AccountRegistered { at, .. }
        | AccountEvent::ProfileUpdated { at, .. }
        | AccountEvent::UsernameChanged { at, .. }
        | AccountEvent::PasswordChanged { at, .. }
        | AccountEvent::PrivacyChanged { at, .. }
        | AccountEvent::EmailVerified { at, .. }
        | AccountEvent::EmailChanged { at, .. }
        | AccountEvent::PhoneChanged { at, .. }
        | AccountEvent::RoleChanged { at, .. }
        | AccountEvent::AccountBlocked { at }
        | AccountEvent::AccountUnblocked { at }
        | AccountEvent::UnverifiedPasswordRemoved { at }
        | AccountEvent::FeaturedChanged { at, .. }
        | AccountEvent::TotpEnabled { at, .. }
        | AccountEvent::TotpRemoved { at }
        | AccountEvent::RecoveryCodesGenerated { at, .. }
        | AccountEvent::RecoveryCodesRevoked { at }
        | AccountEvent::SecondFactorsReset { at, .. }
        | AccountEvent::PasskeyAdded { at, .. }
        | AccountEvent::PasskeyRemoved { at, .. }
        | AccountEvent::AccountDeleted { at }
        | AccountEvent::AccountRestored { at, .. } => Some(*at),
        AccountEvent::PersonalDataErased { .. }
        | AccountEvent::AccountErased { .. }
        | AccountEvent::PersonalDataExported { .. } => None,
        AccountEvent::SecondFactorChallenged { .. }
        | AccountEvent::StepUpFailed { .. }
        | AccountEvent::StepUpProven { .. }
        | AccountEvent::TotpEnrolmentStarted { .. }
        | AccountEvent::TotpEnrolmentCancelled { .. }
        | AccountEvent::TotpCodeUsed { .. }
        | AccountEvent::RecoveryCodeUsed { .. }
        | AccountEvent::PasskeyRegistrationStarted { .. }
        | AccountEvent::PasskeyUsed { .. }
        | AccountEvent::SessionStarted { .. }
        | AccountEvent::SessionsEnded { .. }
        | AccountEvent::SignInFailed { .. } => None,
    }
}
