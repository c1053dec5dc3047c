//! Personal data in the log, sealed per stream (envelope encryption), so that erasing a person
//! destroys keys, not events (GDPR art. 17, PIPL art. 47: "crypto-shredding").
//!
//! Every stream has a data key of its own: a random 256-bit ChaCha20-Poly1305 key, kept in
//! `data_keys` sealed by a key derived from the service's secret key (never in the log). The
//! account's streams (its account, address book and follow graph, and the code streams of its
//! addresses and phones) hold all that is personal about it.
//!
//! When events are appended, each event's personal fields (every field of its `data` but the
//! facts [`facts`] names: times, ids, kinds, roles, counters) move into one sealed value,
//! `data.personal = {"key_id": <uuid>, "sealed": <base64url of nonce ‖ ciphertext ‖ tag>}`,
//! with the event id as associated data; the metadata's client address and user agent likewise
//! (associated data: the stream id and "metadata"), and the stream's snapshot as a whole
//! (associated data: the stream id and "snapshot"). Every read of the log opens them through
//! [`Keyring::open`]: the fields come back where they were. Once a key is erased, an event reads
//! with its facts only and `"personal_data": "erased"` in place of the sealed value.
//!
//! Keys are cached (by stream for sealing, by id for opening) for [`KEY_CACHE_TTL`], so that the
//! read paths make no extra round trip; a cache miss costs one statement for a whole batch.
//!
//! Data keys are wrapped by a key-encryption key ([`Kek`]): by default one derived from the
//! service's secret key; `ACCOUNTS_KEY_ENCRYPTION_KEYS` names others, the first wrapping new
//! data keys and all unwrapping. Rotating it re-wraps the data keys ([`Keyring::rewrap`])
//! without touching the log.

use crate::secrets::SecretBox;
use crate::store::StoreError;
use crate::store::event_log::NewEvent;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{KeyInit, OsRng};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long a key stays cached. An erasure drops the key from the erasing process's cache at
/// once; other processes may open with it for at most this long.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);
/// Keys a process caches at most (each some 100 bytes).
const KEY_CACHE_CAPACITY: u64 = 200_000;
/// The field of `data` (and of `metadata`) that holds the sealed personal fields.
pub const SEALED_FIELD: &str = "personal";
/// The field that stands in for the sealed fields once their key is erased.
pub const ERASED_FIELD: &str = "personal_data";

/// Whether an event's `data` had personal fields whose key is erased (as opened).
pub fn is_erased(data: &Value) -> bool {
    data.get(ERASED_FIELD).and_then(Value::as_str) == Some("erased")
}
/// The fields of `metadata` that are facts; the others (client address, user agent) are sealed.
const METADATA_FACTS: &[&str] = &["actor", "request_id", "idempotency_key"];
/// How long a code stream's data key seals: a new key each day.
pub const CODE_KEY_SEALS_FOR: chrono::Duration = chrono::Duration::days(1);
/// How long a code stream's data key lives: destroyed this long after it was made, so that the
/// address or phone a code went to, and the client address and user agent of whoever asked for
/// it, are readable for 7 to 8 days (codes and links are usable for at most a day), whether or
/// not an account ever held the address.
pub const CODE_KEY_KEPT_FOR: chrono::Duration = chrono::Duration::days(8);

/// For how long a data key seals, and when it is destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLifetime {
    /// How long after it is made a key seals new data; then the stream gets a new one.
    pub seals_for: chrono::Duration,
    /// How long after it is made a key is destroyed (retention), with what it sealed.
    pub kept_for: chrono::Duration,
}

/// The lifetime of the data keys of `stream_type`'s streams: `None` for keys that live as long
/// as their account (destroyed at its erasure); code streams' keys are retention keys
/// ([`CODE_KEY_SEALS_FOR`], [`CODE_KEY_KEPT_FOR`]), since an address's codes are not all an
/// account's: anyone may ask for a code to any address.
pub fn key_lifetime(stream_type: &str) -> Option<KeyLifetime> {
    match stream_type {
        "code" => Some(KeyLifetime {
            seals_for: CODE_KEY_SEALS_FOR,
            kept_for: CODE_KEY_KEPT_FOR,
        }),
        _ => None,
    }
}

/// The purpose the key that seals data keys is derived for (from the service's secret key).
const WRAPPING_PURPOSE: &str = "accounts/data-keys/v1";

/// The fields of an event type's `data` that are facts, kept in clear: what happened, when, to
/// which ids, of which kind. Every other field is personal data and is sealed, so a field added
/// to an event later is sealed unless it is named here. `at` and `expires_at` are facts of every
/// type.
pub fn facts(event_type: &str) -> &'static [&'static str] {
    match event_type {
        "AccountRegistered" => &["role"],
        "AccountRestored" => &["administrator"],
        "PersonalDataExported" => &["requested_by"],
        "FeaturedChanged" => &["featured"],
        "PasskeyAdded" | "PasskeyRemoved" => &["passkey_id"],
        "PasskeyUsed" => &["passkey_id", "sign_count"],
        "PrivacyChanged" => &["privacy"],
        "RecoveryCodeUsed" => &["index"],
        "RecoveryCodesGenerated" => &["codes"],
        "RoleChanged" => &["role", "previous"],
        "SecondFactorChallenged" => &["challenge_id", "identifier", "method"],
        "SecondFactorsReset" => &["administrator"],
        "SessionStarted" => &[
            "session_id",
            "identifier",
            "method",
            "second_factor",
            "passkey_id",
        ],
        "SessionsEnded" => &["session_ids", "reason"],
        "SignInFailed" => &["identifier", "reason"],
        "StepUpFailed" => &["session_id"],
        "StepUpProven" => &["session_id", "method", "passkey_id"],
        "TotpCodeUsed" | "TotpEnabled" => &["time_step"],
        "TotpEnrolmentStarted" => &["secret"],
        "AddressAdded" | "AddressChanged" | "AddressRemoved" | "DefaultAddressSet" => {
            &["address_id"]
        }
        "CodeIssued" => &[
            "channel",
            "purpose",
            "code_hash",
            "sealed_code",
            "deliver",
            "locale",
            "link_hash",
            "sealed_link",
            "link_expires_at",
        ],
        "CodeAttemptFailed" => &["attempts_left"],
        "FollowGroupCreated" | "FollowGroupDeleted" => &["follower"],
        "Followed" | "Unfollowed" => &["follower", "followee"],
        _ => &[],
    }
}

fn is_fact(event_type: &str, field: &str) -> bool {
    matches!(field, "at" | "expires_at") || facts(event_type).contains(&field)
}

/// A sealed value that cannot be opened although its key is live: the service's key is not the
/// one that wrapped it, or the database was altered.
#[derive(Debug, thiserror::Error)]
#[error("personal data of {what} could not be opened (wrong service key, or altered)")]
pub struct SealError {
    what: String,
}

/// A key-encryption key: wraps data keys (ChaCha20-Poly1305), known by the first 8 bytes of
/// its SHA-256 in hex, stored beside each data key it wraps.
#[derive(Clone)]
pub struct Kek {
    id: String,
    sealer: SecretBox,
}

impl Kek {
    /// The key derived from the service's secret key (the default).
    pub fn derived(secrets: &SecretBox) -> Self {
        Self::of(secrets.derive_key(WRAPPING_PURPOSE))
    }

    /// A key of its own: 32 bytes.
    pub fn of(key: [u8; 32]) -> Self {
        use sha2::Digest as _;
        let id = hex::encode(&sha2::Sha256::digest(key)[..8]);
        Self {
            id,
            sealer: SecretBox::new(&key),
        }
    }

    /// The keys of a setting: comma-separated, each 64 hex characters or `service` (the key
    /// derived from the service's secret key). The first wraps; all unwrap.
    pub fn parse_list(setting: &[String], secrets: &SecretBox) -> anyhow::Result<Vec<Self>> {
        let keys = setting
            .iter()
            .map(|key| match key.trim() {
                "service" => Ok(Self::derived(secrets)),
                hex_key => {
                    let bytes: [u8; 32] = hex::decode(hex_key)
                        .ok()
                        .and_then(|bytes| bytes.try_into().ok())
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "a key-encryption key is 64 hex characters or `service`"
                            )
                        })?;
                    Ok(Self::of(bytes))
                }
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!keys.is_empty(), "no key-encryption key");
        Ok(keys)
    }

    /// Its id: the first 8 bytes of its SHA-256, in hex.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// One stream's data key.
struct DataKey {
    id: Uuid,
    sealer: SecretBox,
}

/// A stream's key for sealing, and until when it seals (`None`: for as long as it lives).
#[derive(Clone)]
struct LiveKey {
    key: Arc<DataKey>,
    seals_until: Option<DateTime<Utc>>,
}

impl LiveKey {
    fn seals_at(&self, now: DateTime<Utc>) -> bool {
        self.seals_until.is_none_or(|until| now < until)
    }
}

/// The data keys: made on a stream's first write, cached, and erased for good.
pub struct Keyring {
    pool: Pool,
    /// The key-encryption keys: the first wraps, all unwrap.
    keks: Vec<Kek>,
    /// The live key of each stream, for sealing.
    live: moka::sync::Cache<Uuid, LiveKey>,
    /// Keys by id, for opening; `None` once erased.
    by_id: moka::sync::Cache<Uuid, Option<Arc<DataKey>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("cached", &self.by_id.entry_count())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring that reads and writes `data_keys` through `pool` (a small pool of its own, so
    /// that making a key never joins, nor waits behind, the transaction of the command that
    /// needs it), wrapping data keys with the first of `keks` (which must not be empty) and
    /// unwrapping them with whichever wrapped them.
    pub fn new(pool: Pool, keks: Vec<Kek>) -> Self {
        Self {
            pool,
            keks,
            live: key_cache(),
            by_id: key_cache(),
        }
    }

    /// A keyring on its own small pool of `database_url`.
    pub fn connect(database_url: &str, keks: Vec<Kek>) -> anyhow::Result<Self> {
        anyhow::ensure!(!keks.is_empty(), "no key-encryption key");
        Ok(Self::new(crate::store::connect(database_url, 4)?, keks))
    }

    fn wrapping(&self) -> &Kek {
        &self.keks[0]
    }

    /// The live key of `stream_id`, made (and stored, committed at once) on its first use, or
    /// once the one it had stopped sealing (`lifetime`; `now` is the service's clock): that
    /// one is retired, kept for opening until it is destroyed.
    async fn live_key(
        &self,
        stream_id: Uuid,
        lifetime: Option<KeyLifetime>,
        now: DateTime<Utc>,
    ) -> Result<Arc<DataKey>, StoreError> {
        if let Some(live) = self.live.get(&stream_id).filter(|live| live.seals_at(now)) {
            return Ok(live.key);
        }
        let client = self.pool.get().await?;
        loop {
            let fresh: [u8; 32] = ChaCha20Poly1305::generate_key(&mut OsRng).into();
            let kek = self.wrapping();
            let wrapped = kek.sealer.seal_text(&hex::encode(fresh));
            let seals_until = lifetime.map(|lifetime| now + lifetime.seals_for);
            let erase_after = lifetime.map(|lifetime| now + lifetime.kept_for);
            let row = crate::store::prepared::query_opt(
                &client,
                "WITH made AS (
                     INSERT INTO data_keys
                         (key_id, stream_id, wrapped, wrapped_by, created_at, seals_until,
                          erase_after)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (stream_id) WHERE erased_at IS NULL AND retired_at IS NULL
                     DO NOTHING
                     RETURNING key_id, wrapped, wrapped_by, seals_until
                 )
                 SELECT key_id, wrapped, wrapped_by, seals_until FROM made
                 UNION ALL
                 SELECT key_id, wrapped, wrapped_by, seals_until FROM data_keys
                 WHERE stream_id = $2 AND erased_at IS NULL AND retired_at IS NULL
                 LIMIT 1",
                &[
                    &Uuid::new_v4(),
                    &stream_id,
                    &wrapped,
                    &kek.id,
                    &now,
                    &seals_until,
                    &erase_after,
                ],
            )
            .await?;
            // None: another writer made the key after this statement's snapshot; read it again.
            let Some(row) = row else { continue };
            let key = Arc::new(self.unwrap_key(row.get(0), row.get(1), row.get(2))?);
            self.by_id.insert(key.id, Some(key.clone()));
            let live = LiveKey {
                key,
                seals_until: row.get(3),
            };
            if !live.seals_at(now) {
                // It stopped sealing: retire it (whoever comes first), and make the next.
                crate::store::prepared::execute(
                    &client,
                    "UPDATE data_keys SET retired_at = $2
                     WHERE key_id = $1 AND retired_at IS NULL",
                    &[&live.key.id, &now],
                )
                .await?;
                continue;
            }
            self.live.insert(stream_id, live.clone());
            return Ok(live.key);
        }
    }

    /// Retires the live keys of `streams` (at `now`): they seal nothing more, and open what
    /// they sealed until they are destroyed; the next write to each stream makes a new key. At
    /// an account's deletion, so that the next holder of its addresses gets code-stream keys
    /// the account's erasure leaves alone.
    pub async fn retire(&self, streams: &[Uuid], now: DateTime<Utc>) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        crate::store::prepared::execute(
            &client,
            "UPDATE data_keys SET retired_at = $2
             WHERE stream_id = ANY($1) AND erased_at IS NULL AND retired_at IS NULL",
            &[&streams, &now],
        )
        .await?;
        for stream in streams {
            self.live.invalidate(stream);
        }
        Ok(())
    }

    /// Destroys the keys whose retention ended by `now` (`erase_after`), up to `batch` of them;
    /// returns how many. What they sealed (a code's target, who asked for it) reads as erased
    /// from then on.
    pub async fn erase_expired(&self, now: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let rows = crate::store::prepared::query(
            &client,
            "UPDATE data_keys SET wrapped = NULL, erased_at = $1
             WHERE key_id IN (
                 SELECT key_id FROM data_keys
                 WHERE erase_after <= $1 AND erased_at IS NULL
                 ORDER BY erase_after LIMIT $2
                 FOR UPDATE SKIP LOCKED
             )
             RETURNING stream_id, key_id",
            &[&now, &batch],
        )
        .await?;
        let streams: Vec<Uuid> = rows.iter().map(|row| row.get(0)).collect();
        let keys: Vec<Uuid> = rows.iter().map(|row| row.get(1)).collect();
        self.forget(&streams, &keys);
        Ok(rows.len() as u64)
    }

    /// Unwraps a data key with the key-encryption key that wrapped it (`wrapped_by`; any of
    /// them when unrecorded).
    fn unwrap_key(
        &self,
        id: Uuid,
        wrapped: &str,
        wrapped_by: Option<&str>,
    ) -> Result<DataKey, SealError> {
        let bytes = self.unwrap_bytes(id, wrapped, wrapped_by)?;
        Ok(DataKey {
            id,
            sealer: SecretBox::new(&bytes),
        })
    }

    fn unwrap_bytes(
        &self,
        id: Uuid,
        wrapped: &str,
        wrapped_by: Option<&str>,
    ) -> Result<[u8; 32], SealError> {
        self.keks
            .iter()
            .filter(|kek| wrapped_by.is_none_or(|by| by == kek.id))
            .find_map(|kek| kek.sealer.open_text(wrapped).ok())
            .and_then(|hex_key| hex::decode(hex_key).ok())
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| SealError {
                what: format!("data key {id} (wrapped by {})", wrapped_by.unwrap_or("?")),
            })
    }

    /// Re-wraps every live data key that another key-encryption key wrapped with the first one,
    /// in batches of `batch`, without touching the log (`accounts keys rewrap`, after a
    /// rotation of `ACCOUNTS_KEY_ENCRYPTION_KEYS`). A key erased meanwhile stays erased.
    /// Returns how many it re-wrapped.
    pub async fn rewrap(&self, batch: i64) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let kek = self.wrapping();
        let mut rewrapped = 0;
        let mut after = Uuid::nil();
        loop {
            let rows = crate::store::prepared::query(
                &client,
                "SELECT key_id, wrapped, wrapped_by FROM data_keys
                 WHERE wrapped IS NOT NULL AND wrapped_by IS DISTINCT FROM $1 AND key_id > $2
                 ORDER BY key_id LIMIT $3",
                &[&kek.id, &after, &batch],
            )
            .await?;
            let Some(last) = rows.last() else {
                return Ok(rewrapped);
            };
            after = last.get(0);
            for row in &rows {
                let (id, wrapped): (Uuid, String) = (row.get(0), row.get(1));
                let bytes = self.unwrap_bytes(id, &wrapped, row.get(2))?;
                let again = kek.sealer.seal_text(&hex::encode(bytes));
                rewrapped += crate::store::prepared::execute(
                    &client,
                    "UPDATE data_keys SET wrapped = $3, wrapped_by = $4
                     WHERE key_id = $1 AND wrapped = $2",
                    &[&id, &wrapped, &again, &kek.id],
                )
                .await?;
            }
        }
    }

    /// The keys of `ids` (`None` for erased ones), from the cache or in one statement.
    async fn keys_by_id(
        &self,
        ids: &BTreeSet<Uuid>,
    ) -> Result<HashMap<Uuid, Option<Arc<DataKey>>>, StoreError> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.by_id.get(id) {
                Some(key) => {
                    found.insert(*id, key);
                }
                None => missing.push(*id),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let client = self.pool.get().await?;
        let rows = crate::store::prepared::query(
            &client,
            "SELECT key_id, wrapped, wrapped_by FROM data_keys WHERE key_id = ANY($1)",
            &[&missing],
        )
        .await?;
        for row in rows {
            let id: Uuid = row.get(0);
            let wrapped: Option<String> = row.get(1);
            let key = match wrapped {
                Some(wrapped) => Some(Arc::new(self.unwrap_key(id, &wrapped, row.get(2))?)),
                None => None,
            };
            self.by_id.insert(id, key.clone());
            found.insert(id, key);
        }
        // A key id the table does not know was never made here: its data cannot be read.
        for id in missing {
            found.entry(id).or_insert(None);
        }
        Ok(found)
    }

    /// Forgets the keys of `streams` (`key_ids`) in this process, after they were erased.
    pub fn forget(&self, streams: &[Uuid], key_ids: &[Uuid]) {
        for stream in streams {
            self.live.invalidate(stream);
        }
        for id in key_ids {
            self.by_id.insert(*id, None);
        }
    }

    /// Events about to be appended to `stream_id`, as the log is to hold them: each event's
    /// personal fields sealed (associated data: its event id), the metadata's (the stream id and
    /// "metadata") and the snapshot's state, when given (the stream id and "snapshot"). Called
    /// before the append's transaction sends anything: making the stream's first key takes a
    /// round trip on the keyring's own connection.
    pub async fn seal(
        &self,
        (stream_id, stream_type): (Uuid, &str),
        now: DateTime<Utc>,
        events: &[NewEvent],
        metadata: &Value,
        snapshot: Option<(&'static str, &Value)>,
    ) -> Result<SealedAppend, StoreError> {
        let key = self
            .live_key(stream_id, key_lifetime(stream_type), now)
            .await?;
        let events = events
            .iter()
            .map(|event| {
                let mut data = event.data.clone();
                seal_fields(&key, &mut data, event.event_id.as_bytes(), |field| {
                    is_fact(event.event_type, field)
                });
                NewEvent {
                    data,
                    ..event.clone()
                }
            })
            .collect();
        // The client address and user agent are the actor's: sealed with the actor's own key
        // when another account (an administrator) acted, so that they go with the actor's
        // erasure, not the stream's.
        let actor = metadata
            .get("actor")
            .and_then(Value::as_str)
            .and_then(|actor| actor.parse::<Uuid>().ok());
        let metadata_key = match actor {
            Some(actor) if actor != stream_id => self.live_key(actor, None, now).await?,
            _ => key.clone(),
        };
        let mut metadata = metadata.clone();
        seal_fields(
            &metadata_key,
            &mut metadata,
            &associated(stream_id, b"metadata"),
            |field| METADATA_FACTS.contains(&field),
        );
        let snapshot = snapshot.map(|(format, state)| {
            let plaintext = serde_json::to_vec(state).unwrap_or_default();
            let sealed = sealed_value(&key, &plaintext, &associated(stream_id, b"snapshot"));
            (format, sealed)
        });
        Ok(SealedAppend {
            stream_id,
            events,
            metadata,
            snapshot,
        })
    }

    /// Opens the sealed fields of `events` (data and metadata), in place: one statement at most,
    /// for the keys not cached.
    pub async fn open(
        &self,
        events: &mut [crate::store::event_log::RecordedEvent],
    ) -> Result<(), StoreError> {
        let ids: BTreeSet<Uuid> = events
            .iter()
            .flat_map(|event| [sealed_key_id(&event.data), sealed_key_id(&event.metadata)])
            .flatten()
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let keys = self.keys_by_id(&ids).await?;
        for event in events {
            let what = || format!("event {}", event.event_id);
            open_fields(&keys, &mut event.data, event.event_id.as_bytes(), what)?;
            open_fields(
                &keys,
                &mut event.metadata,
                &associated(event.stream_id, b"metadata"),
                what,
            )?;
        }
        Ok(())
    }

    /// Opens a snapshot's state: its JSON text (which the aggregate reads at once, without an
    /// intermediate `Value`), the state as it is when it was written in clear (before data
    /// keys), or `Erased` when its key is gone (the caller replays the stream).
    pub async fn open_snapshot(
        &self,
        stream_id: Uuid,
        state: &Value,
    ) -> Result<OpenedSnapshot, StoreError> {
        let Some(id) = key_id_of(state) else {
            return Ok(OpenedSnapshot::Clear);
        };
        let key = match self.by_id.get(&id) {
            Some(key) => key,
            None => self
                .keys_by_id(&BTreeSet::from([id]))
                .await?
                .remove(&id)
                .flatten(),
        };
        let Some(key) = key else {
            return Ok(OpenedSnapshot::Erased);
        };
        let plaintext =
            open_value(&key, state, &associated(stream_id, b"snapshot")).ok_or_else(|| {
                SealError {
                    what: format!("the snapshot of stream {stream_id}"),
                }
            })?;
        Ok(OpenedSnapshot::Json(plaintext))
    }
}

fn key_cache<V: Clone + Send + Sync + 'static>() -> moka::sync::Cache<Uuid, V> {
    moka::sync::Cache::builder()
        .max_capacity(KEY_CACHE_CAPACITY)
        .time_to_live(KEY_CACHE_TTL)
        .build()
}

/// A snapshot's state, opened.
#[derive(Debug, Clone)]
pub enum OpenedSnapshot {
    /// Written in clear (before data keys): the state as read.
    Clear,
    /// The state's JSON text.
    Json(Vec<u8>),
    /// Its key is erased.
    Erased,
}

/// The events, metadata and snapshot of one append to a stream, as [`Keyring::seal`] made them
/// for the log.
#[derive(Debug, Clone)]
pub struct SealedAppend {
    /// The stream.
    pub stream_id: Uuid,
    /// The events, their personal fields sealed.
    pub events: Vec<NewEvent>,
    /// The append's metadata, its personal fields sealed.
    pub metadata: Value,
    /// The snapshot's format and its sealed state, when one is written.
    pub snapshot: Option<(&'static str, Value)>,
}

fn associated(stream_id: Uuid, purpose: &[u8]) -> Vec<u8> {
    let mut bytes = stream_id.as_bytes().to_vec();
    bytes.extend_from_slice(purpose);
    bytes
}

/// Moves the fields of the object `value` that `is_fact` refuses into one sealed value under
/// [`SEALED_FIELD`]. Nothing to seal: nothing changes.
fn seal_fields(key: &DataKey, value: &mut Value, aad: &[u8], is_fact: impl Fn(&str) -> bool) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    let personal: Map<String, Value> = object
        .keys()
        .filter(|field| !is_fact(field))
        .cloned()
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|field| object.remove(&field).map(|value| (field, value)))
        .collect();
    if personal.is_empty() {
        return;
    }
    let plaintext = serde_json::to_vec(&personal).unwrap_or_default();
    object.insert(SEALED_FIELD.to_owned(), sealed_value(key, &plaintext, aad));
}

fn sealed_value(key: &DataKey, plaintext: &[u8], aad: &[u8]) -> Value {
    let sealed = key.sealer.seal_bound(plaintext, aad);
    json!({ "key_id": key.id, "sealed": URL_SAFE_NO_PAD.encode(sealed) })
}

fn key_id_of(sealed: &Value) -> Option<Uuid> {
    sealed
        .get("key_id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse().ok())
        .filter(|_| sealed.get("sealed").is_some())
}

fn sealed_key_id(value: &Value) -> Option<Uuid> {
    value.get(SEALED_FIELD).and_then(key_id_of)
}

fn open_value(key: &DataKey, sealed: &Value, aad: &[u8]) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(sealed.get("sealed")?.as_str()?)
        .ok()?;
    key.sealer.open_bound(&bytes, aad).ok()
}

/// Puts the sealed fields of the object `value` back where they were; with an erased key, marks
/// them erased instead.
fn open_fields(
    keys: &HashMap<Uuid, Option<Arc<DataKey>>>,
    value: &mut Value,
    aad: &[u8],
    what: impl Fn() -> String,
) -> Result<(), SealError> {
    let Some(id) = sealed_key_id(value) else {
        return Ok(());
    };
    let Some(object) = value.as_object_mut() else {
        return Ok(());
    };
    let sealed = object.remove(SEALED_FIELD).unwrap_or(Value::Null);
    let Some(Some(key)) = keys.get(&id) else {
        object.insert(ERASED_FIELD.to_owned(), json!("erased"));
        return Ok(());
    };
    let fields: Map<String, Value> = open_value(key, &sealed, aad)
        .and_then(|plaintext| serde_json::from_slice(&plaintext).ok())
        .ok_or_else(|| SealError { what: what() })?;
    object.extend(fields);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey {
            id: Uuid::new_v4(),
            sealer: SecretBox::random(),
        }
    }

    #[test]
    fn personal_fields_are_sealed_and_open_back_where_they_were() {
        let key = Arc::new(key());
        let event_id = Uuid::new_v4();
        let original = json!({
            "email": "alice@example.com", "username": "alice", "phone": null,
            "role": "user", "at": "2026-12-01T00:00:00Z"
        });
        let mut data = original.clone();
        seal_fields(&key, &mut data, event_id.as_bytes(), |field| {
            is_fact("AccountRegistered", field)
        });
        let text = data.to_string();
        assert!(!text.contains("alice"), "{text}");
        assert_eq!(data["role"], "user");
        assert_eq!(data["at"], "2026-12-01T00:00:00Z");

        let keys = HashMap::from([(key.id, Some(key.clone()))]);
        let mut opened = data.clone();
        open_fields(&keys, &mut opened, event_id.as_bytes(), String::new).unwrap();
        assert_eq!(opened, original);

        // Bound to its event: moved to another, it does not open.
        let mut moved = data.clone();
        assert!(open_fields(&keys, &mut moved, Uuid::new_v4().as_bytes(), String::new).is_err());

        // Erased: the facts stay, the personal fields are gone and marked so.
        let erased_keys = HashMap::from([(key.id, None)]);
        let mut erased = data;
        open_fields(&erased_keys, &mut erased, event_id.as_bytes(), String::new).unwrap();
        assert_eq!(
            erased,
            json!({"role": "user", "at": "2026-12-01T00:00:00Z", "personal_data": "erased"})
        );
    }

    #[test]
    fn an_event_with_only_facts_is_left_as_it_is() {
        let key = key();
        let mut data = json!({"session_ids": [Uuid::nil()], "reason": "signed_out", "at": "x"});
        let before = data.clone();
        seal_fields(&key, &mut data, b"", |field| {
            is_fact("SessionsEnded", field)
        });
        assert_eq!(data, before);
    }

    /// Every field a fact list names is a field of its event type (a renamed field would
    /// otherwise be sealed, or a removed one linger here).
    #[test]
    fn every_fact_named_is_a_field_of_its_event_type() {
        let schemas = crate::events::schemas();
        for (file, text) in &schemas {
            let Some((_, event_type)) = file.trim_end_matches(".json").split_once('.') else {
                continue;
            };
            let schema: Value = serde_json::from_str(text).unwrap();
            let properties = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for fact in facts(event_type) {
                assert!(
                    properties.contains_key(*fact),
                    "{event_type} has no field {fact}"
                );
            }
        }
    }
}
