//! Subscribers of a page: people (email), systems (webhook) and chat channels (Slack,
//! Discord, Teams, Google Chat) who are told about its
//! incidents, maintenance and status changes. Items in the org partition, listed by page
//! on GSI1 and by page and state on GSI2 (the notifier reads the active ones in one
//! query). An email address is claimed once per page. Unconfirmed sign-ups expire after
//! seven days. Every change is an event in its transaction; a confirmation email is asked
//! for with a `subscriber.confirmation_requested` event, which the notifier sends.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{Actor, Event, EventType, data_of};
use super::idempotency::{Idempotent, Outcome};
use super::listing::Listing;
use super::quotas::{Quota, page_quota_failure, returned_item};
use super::write::{Now, Write};
use super::{Item, Store, Tx, TxError, cursor, failed_at, from_item, key, n, s, schema, to_item};
use crate::domain::EmailAddress;
use crate::domain::chat::ChatKind;

/// How long a subscription may stay unconfirmed (and a confirm link stays good).
pub const PENDING_SECS: i64 = 7 * 24 * 60 * 60;
/// How long an unsubscribe link works: 180 days (every email carries a fresh one, so a
/// subscriber always has a working link in the newest; a leaked old one stops working).
pub const UNSUBSCRIBE_LINK_SECS: i64 = 180 * 24 * 60 * 60;
/// Public sign-ups one client address may make on a page in an hour.
pub const SIGN_UPS_PER_ADDRESS_HOUR: u32 = 10;
/// Public sign-ups a page takes in an hour, from all addresses.
pub const SIGN_UPS_PER_PAGE_HOUR: u32 = 100;
/// Unconfirmed subscribers a page holds at most (each was sent a confirmation email).
pub const PENDING_MAX: usize = 1_000;
/// A public sign-up repeated for a pending address sends the confirmation again at most
/// this often, so the form cannot be used to flood someone's inbox.
pub const RESEND_AFTER_SECS: i64 = 15 * 60;

/// How a subscriber is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberKind {
    /// By email.
    Email,
    /// By a signed POST to a URL.
    Webhook,
    /// A Slack channel.
    Slack,
    /// A Discord channel.
    Discord,
    /// A Microsoft Teams channel.
    Teams,
    /// A Google Chat space.
    #[serde(rename = "googlechat")]
    GoogleChat,
}

impl SubscriberKind {
    /// The chat service, for a chat channel.
    pub const fn chat(self) -> Option<ChatKind> {
        match self {
            Self::Slack => Some(ChatKind::Slack),
            Self::Discord => Some(ChatKind::Discord),
            Self::Teams => Some(ChatKind::Teams),
            Self::GoogleChat => Some(ChatKind::GoogleChat),
            Self::Email | Self::Webhook => None,
        }
    }
}

impl From<ChatKind> for SubscriberKind {
    fn from(kind: ChatKind) -> Self {
        match kind {
            ChatKind::Slack => Self::Slack,
            ChatKind::Discord => Self::Discord,
            ChatKind::Teams => Self::Teams,
            ChatKind::GoogleChat => Self::GoogleChat,
        }
    }
}

/// Where a subscriber stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberState {
    /// Waiting for the confirmation link to be followed.
    Pending,
    /// Receiving notifications.
    Active,
    /// Stopped by the system: every delivery failed for 24 hours, or the endpoint said 410.
    Quarantined,
    /// Stopped by the subscriber or the organization.
    Unsubscribed,
}

impl SubscriberState {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Quarantined => "quarantined",
            Self::Unsubscribed => "unsubscribed",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Active, Self::Quarantined, Self::Unsubscribed].into_iter().find(|s| s.as_str() == raw)
    }
}

/// A subscriber as the API shows it (a webhook subscriber's secret only in the create answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscriber {
    /// Subscriber id (UUID v7).
    pub id: Uuid,
    /// The page subscribed to.
    pub page_id: Uuid,
    /// Email, webhook, or a chat service.
    #[serde(rename = "type")]
    pub kind: SubscriberKind,
    /// The address, for email subscribers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The URL, for webhook subscribers; redacted, for chat channels (the whole URL is
    /// their credential, kept sealed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Services followed; empty: all of the page.
    pub service_ids: Vec<Uuid>,
    /// Where it stands.
    pub state: SubscriberState,
    /// When it was added.
    pub created_at: String,
    /// When it was confirmed (or activated without confirmation).
    pub confirmed_at: Option<String>,
    /// Who added an email subscriber with `skipConfirmation`: the one address the
    /// subscriber never confirmed is on record with whoever vouched for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_skipped_by: Option<Actor>,
}

/// A subscriber with what only the notifier needs.
#[derive(Clone, Debug)]
pub struct SubscriberRecord {
    /// The organization.
    pub org_id: Uuid,
    /// The subscriber.
    pub subscriber: Subscriber,
    /// A webhook subscriber's signing secret, or a chat channel's whole URL, sealed.
    pub secret: Option<String>,
    /// Start of the current run of failed deliveries, as last read (the notifier clears
    /// it after a success only when it is set).
    pub failing_since: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriberItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    gsi2pk: String,
    gsi2sk: String,
    entity: String,
    org_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirmation_sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failing_since: Option<String>,
    #[serde(flatten)]
    subscriber: Subscriber,
}

/// The claim of an email address on a page.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmailClaimItem {
    pk: String,
    sk: String,
    entity: String,
    page_id: Uuid,
    subscriber_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

/// What a new subscriber is.
#[derive(Debug)]
pub enum Contact {
    /// An email address.
    Email(EmailAddress),
    /// A URL checked by the address guard, with its sealed signing secret.
    Webhook {
        /// Where deliveries go.
        url: String,
        /// The sealed secret.
        sealed_secret: String,
    },
    /// A chat channel's incoming-webhook URL (checked by the address guard and, on a
    /// deployment, against its service's hosts); messages are in the service's format.
    Chat {
        /// Which service.
        kind: ChatKind,
        /// The URL as shown (redacted: the URL is the channel's credential).
        shown_url: String,
        /// The URL, sealed for the subscriber.
        sealed_url: String,
    },
}

/// A validated new subscriber.
#[derive(Debug)]
pub struct NewSubscriber {
    /// Id (UUID v7), chosen before a webhook subscriber's secret is sealed for it.
    pub id: Uuid,
    /// How it is told.
    pub contact: Contact,
    /// Services of the page it follows (empty: all).
    pub service_ids: Vec<Uuid>,
    /// Active at once (webhooks, `skipConfirmation`) or pending until confirmed.
    pub confirmed: bool,
}

/// What a public sign-up led to (the answer is the same either way, so the form reveals
/// nothing about who is subscribed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignUp {
    /// A confirmation email is on its way.
    ConfirmationRequested,
    /// Already active, or a confirmation was sent moments ago: nothing new.
    Unchanged,
}

const EMAIL_TAKEN: &str = "is already a subscriber of this page";

fn subscriber_key(org: Uuid, id: Uuid) -> Item {
    key(schema::org_pk(org), schema::subscriber_sk(id))
}

fn claim_key(org: Uuid, page: Uuid, email: &EmailAddress) -> Item {
    key(schema::org_pk(org), schema::subscriber_email_sk(page, &email.identity_hash()))
}

impl Store {
    /// Adds a subscriber to a live page. An email address already on the page is a
    /// conflict. A pending email subscriber gets its confirmation email asked for in the
    /// same transaction; unconfirmed, it expires after [`PENDING_SECS`].
    /// With an `Idempotency-Key`, its record (the bytes `record` makes of the new
    /// subscriber) goes in the same transaction (a retry replays).
    pub async fn create_subscriber(
        &self,
        w: &Write<'_>,
        page: Uuid,
        new: NewSubscriber,
        record: &(dyn Fn(&Subscriber) -> Vec<u8> + Send + Sync),
    ) -> Result<Outcome<Subscriber>, StoreError> {
        let (org, actor, now, now_epoch) = (w.org, &w.actor, w.now.text(), w.now.epoch());
        let idem = w.idem.map(|key| Idempotent { key, record });
        let id = new.id;
        let actor =
            if actor.kind == super::events::ActorKind::Subscriber { Actor::subscriber(id) } else { actor.clone() };
        let state = if new.confirmed { SubscriberState::Active } else { SubscriberState::Pending };
        let ttl = (!new.confirmed).then_some(now_epoch + PENDING_SECS);
        let (kind, email, url, secret) = match &new.contact {
            Contact::Email(e) => (SubscriberKind::Email, Some(e.as_str().to_owned()), None, None),
            Contact::Webhook { url, sealed_secret } => {
                (SubscriberKind::Webhook, None, Some(url.clone()), Some(sealed_secret.clone()))
            }
            Contact::Chat { kind, shown_url, sealed_url } => {
                (SubscriberKind::from(*kind), None, Some(shown_url.clone()), Some(sealed_url.clone()))
            }
        };
        let subscriber = Subscriber {
            id,
            page_id: page,
            kind,
            email,
            url,
            service_ids: new.service_ids,
            state,
            created_at: now.to_owned(),
            confirmed_at: new.confirmed.then(|| now.to_owned()),
            confirmation_skipped_by: (new.confirmed && matches!(new.contact, Contact::Email(_))).then(|| actor.clone()),
        };
        let asks_confirmation = state == SubscriberState::Pending && subscriber.kind == SubscriberKind::Email;
        let skips_confirmation = new.confirmed && subscriber.kind == SubscriberKind::Email;
        let item = SubscriberItem {
            pk: schema::org_pk(org),
            sk: schema::subscriber_sk(id),
            gsi1pk: schema::subscribers_gsi1pk(org, page),
            gsi1sk: id.to_string(),
            gsi2pk: schema::subscribers_gsi2pk(org, page, state.as_str()),
            gsi2sk: id.to_string(),
            entity: "subscriber".into(),
            org_id: org,
            secret,
            confirmation_sent_at: asks_confirmation.then(|| now.to_owned()),
            ttl,
            failing_since: None,
            subscriber,
        };
        let plan = self.plan_of(org).await?;
        let limits = plan.limits();
        if skips_confirmation && limits.unconfirmed_per_day == 0 {
            return Err(super::quotas::unconfirmed_exceeded(plan));
        }
        let page_write = if state == SubscriberState::Active {
            self.take_page_quota(org, page, Quota::Subscribers, limits.subscribers_per_page)?
        } else {
            self.page_is_live(org, page)?
        };
        let mut tx = Tx::new();
        let page_write = tx.push(page_write);
        tx.push(self.put_new(to_item(&item)?)?);
        let mut email_claim = None;
        if let Contact::Email(address) = &new.contact {
            let claim = EmailClaimItem {
                pk: schema::org_pk(org),
                sk: schema::subscriber_email_sk(page, &address.identity_hash()),
                entity: "subscriberEmail".into(),
                page_id: page,
                subscriber_id: id,
                ttl,
            };
            email_claim = Some(tx.push(self.put_new(to_item(&claim)?)?));
        }
        let created =
            Event::new(EventType::SubscriberCreated, Some(page), &actor, now, data_of("subscriber", &item.subscriber));
        tx.push(self.event_put(org, created)?);
        if asks_confirmation {
            tx.push(self.event_put(org, confirmation_event(&item.subscriber, &actor, now))?);
        }
        let mut unconfirmed = None;
        if skips_confirmation {
            unconfirmed = Some(tx.push(self.take_unconfirmed(org, limits.unconfirmed_per_day, now_epoch)?));
        }
        let mut replay = None;
        if let Some(idem) = &idem {
            let record = (idem.record)(&item.subscriber);
            replay = Some(tx.push(self.idempotency_put(org, idem.key, page, id, 201, record, now_epoch)?));
        }
        let failed = |reasons: &[_], slot: Option<super::Slot>| slot.is_some_and(|s| failed_at(reasons, s).is_some());
        match self.transact(tx).await {
            Ok(()) => Ok(Outcome::Created(item.subscriber)),
            // The key's record exists: a retry, whose address is of course already claimed.
            Err(TxError::Cancelled(reasons)) if failed(&reasons, replay) => {
                self.replay(org, idem.expect("checked").key, now_epoch).await
            }
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, page_write).is_some() => {
                Err(page_quota_failure(Quota::Subscribers, plan, returned_item(&reasons, page_write)))
            }
            Err(TxError::Cancelled(reasons)) if failed(&reasons, unconfirmed) => {
                Err(super::quotas::unconfirmed_exceeded(plan))
            }
            Err(TxError::Cancelled(reasons)) if failed(&reasons, email_claim) => {
                Err(StoreError::invalid_field("email", EMAIL_TAKEN))
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// A sign-up through the public page: always double opt-in. A new address becomes a
    /// pending subscriber; a pending one gets its confirmation again (at most every
    /// [`RESEND_AFTER_SECS`]); an unsubscribed or quarantined one becomes pending again
    /// with the services now chosen; an active one is left alone.
    pub async fn sign_up(
        &self,
        org: Uuid,
        page: Uuid,
        email: EmailAddress,
        service_ids: Vec<Uuid>,
        at: &Now,
    ) -> Result<SignUp, StoreError> {
        let (now, now_epoch) = (at.text(), at.epoch());
        for _ in 0..3 {
            let new = NewSubscriber {
                id: Uuid::now_v7(),
                contact: Contact::Email(email.clone()),
                service_ids: service_ids.clone(),
                confirmed: false,
            };
            // The actor becomes the new subscriber's own id.
            let write = Write::new(org, Actor::subscriber(Uuid::nil()), at.at());
            match self.create_subscriber(&write, page, new, &|_| Vec::new()).await {
                Ok(_) => return Ok(SignUp::ConfirmationRequested),
                Err(StoreError::Invalid(why)) if why.is("email", EMAIL_TAKEN) => {}
                Err(e) => return Err(e),
            }
            let Some(existing) = self.claimed_subscriber(org, page, &email).await? else { continue };
            let sub = &existing.subscriber;
            let resend = match sub.state {
                SubscriberState::Active => false,
                SubscriberState::Pending => existing.confirmation_sent_at.as_deref().is_none_or(|sent| {
                    chrono::DateTime::parse_from_rfc3339(sent)
                        .is_ok_and(|sent| now_epoch - sent.timestamp() >= RESEND_AFTER_SECS)
                }),
                SubscriberState::Unsubscribed | SubscriberState::Quarantined => true,
            };
            if !resend {
                return Ok(SignUp::Unchanged);
            }
            // `false`: changed meanwhile (confirmed, unsubscribed, expired): look again.
            if self.request_confirmation(org, &existing, &email, service_ids.clone(), now, now_epoch).await? {
                return Ok(SignUp::ConfirmationRequested);
            }
        }
        Err(StoreError::Unavailable("the subscription kept changing during the sign-up".into()))
    }

    async fn claimed_subscriber(
        &self,
        org: Uuid,
        page: Uuid,
        email: &EmailAddress,
    ) -> Result<Option<Claimed>, StoreError> {
        let out = self.get(&claim_key(org, page, email), true).await?;
        let Some(claim) = out.map(from_item::<EmailClaimItem>).transpose()? else { return Ok(None) };
        let out = self.get(&subscriber_key(org, claim.subscriber_id), true).await?;
        Ok(out
            .map(from_item::<SubscriberItem>)
            .transpose()?
            .map(|item| Claimed { confirmation_sent_at: item.confirmation_sent_at, subscriber: item.subscriber }))
    }

    /// Puts a subscriber (back) to pending with a fresh expiry and asks for its
    /// confirmation email, on the condition that its state is still the one read.
    /// `false`: it changed meanwhile.
    async fn request_confirmation(
        &self,
        org: Uuid,
        existing: &Claimed,
        email: &EmailAddress,
        service_ids: Vec<Uuid>,
        now: &str,
        now_epoch: i64,
    ) -> Result<bool, StoreError> {
        let sub = &existing.subscriber;
        let ttl = now_epoch + PENDING_SECS;
        let built = (|| {
            let update = Update::builder()
                .table_name(self.table())
                .set_key(Some(subscriber_key(org, sub.id)))
                .update_expression(
                    "SET #state = :pending, gsi2pk = :gsi2pk, serviceIds = :services, confirmationSentAt = :now, \
                     confirmedAt = :null, #ttl = :ttl",
                )
                .condition_expression("attribute_exists(pk) AND #state = :was")
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":was", s(sub.state.as_str()))
                .expression_attribute_values(":gsi2pk", s(schema::subscribers_gsi2pk(org, sub.page_id, "pending")))
                .expression_attribute_values(":services", to_list(&service_ids))
                .expression_attribute_values(":now", s(now))
                .expression_attribute_values(":null", AttributeValue::Null(true))
                .expression_attribute_values(":ttl", n(ttl))
                .build()
                .map_err(StoreError::internal)?;
            let claim = Update::builder()
                .table_name(self.table())
                .set_key(Some(claim_key(org, sub.page_id, email)))
                .update_expression("SET #ttl = :ttl")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":ttl", n(ttl))
                .build()
                .map_err(StoreError::internal)?;
            let mut after = sub.clone();
            after.state = SubscriberState::Pending;
            after.service_ids = service_ids.clone();
            after.confirmed_at = None;
            let mut tx = Tx::new();
            let state_unchanged = tx.push(TransactWriteItem::builder().update(update).build());
            tx.push(TransactWriteItem::builder().update(claim).build());
            tx.push(self.event_put(org, confirmation_event(&after, &Actor::subscriber(sub.id), now))?);
            Ok::<_, StoreError>((tx, state_unchanged))
        })();
        let (tx, state_unchanged) = built?;
        match self.transact(tx).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, state_unchanged).is_some() => Ok(false),
            Err(e) => Err(e.into_error()),
        }
    }

    /// Reads a subscriber.
    pub async fn get_subscriber(&self, org: Uuid, id: Uuid) -> Result<Option<SubscriberRecord>, StoreError> {
        let out = self.get(&subscriber_key(org, id), true).await?;
        out.map(|i| from_item::<SubscriberItem>(i).map(|i| record(org, i))).transpose()
    }

    /// A page's subscribers, oldest first, optionally in one state only.
    pub async fn list_subscribers(
        &self,
        org: Uuid,
        page: Uuid,
        state: Option<SubscriberState>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Subscriber>, StoreError> {
        let (index, pk_name, pk) = match state {
            Some(state) => (schema::GSI2, schema::GSI2PK, schema::subscribers_gsi2pk(org, page, state.as_str())),
            None => (schema::GSI1, schema::GSI1PK, schema::subscribers_gsi1pk(org, page)),
        };
        let start = cursor.map(|c| cursor::decode(c, pk_name, &pk)).transpose()?;
        let query = self
            .client()
            .query()
            .index_name(index)
            .key_condition_expression(format!("{pk_name} = :pk"))
            .expression_attribute_values(":pk", s(&pk));
        self.list(query, limit, start, |row: SubscriberItem| row.subscriber).await
    }

    /// Every active subscriber of a page, with secrets: the notifier's fan-out.
    pub async fn active_subscribers(&self, org: Uuid, page: Uuid) -> Result<Vec<SubscriberRecord>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name(schema::GSI2)
            .key_condition_expression("gsi2pk = :pk")
            .expression_attribute_values(":pk", s(schema::subscribers_gsi2pk(org, page, "active")));
        let items = self.query_all(query).await?;
        items.into_iter().map(|i| from_item::<SubscriberItem>(i).map(|i| record(org, i))).collect()
    }

    /// Moves a subscriber to `to` if it is in one of `from`, with the event that says
    /// so (`subscriber.confirmed`, `.unsubscribed` or `.quarantined`). Confirming ends
    /// the expiry of a pending sign-up. `None` when it is in none of `from` (or gone).
    pub async fn set_subscriber_state(
        &self,
        w: &Write<'_>,
        id: Uuid,
        from: &[SubscriberState],
        to: SubscriberState,
    ) -> Result<Option<Subscriber>, StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let kind = match to {
            SubscriberState::Active => EventType::SubscriberConfirmed,
            SubscriberState::Unsubscribed => EventType::SubscriberUnsubscribed,
            SubscriberState::Quarantined => EventType::SubscriberQuarantined,
            SubscriberState::Pending => return Err(StoreError::internal("subscribers go pending only by sign-up")),
        };
        let mut plan = None;
        for _ in 0..3 {
            let Some(current) = self.get_subscriber(org, id).await? else { return Ok(None) };
            let was = current.subscriber.state;
            if !from.contains(&was) {
                return Ok(None);
            }
            let mut after = current.subscriber.clone();
            after.state = to;
            let mut update = Update::builder()
                .table_name(self.table())
                .set_key(Some(subscriber_key(org, id)))
                .condition_expression("attribute_exists(pk) AND #state = :was")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":to", s(to.as_str()))
                .expression_attribute_values(":was", s(was.as_str()))
                .expression_attribute_values(":gsi2pk", s(schema::subscribers_gsi2pk(org, after.page_id, to.as_str())));
            let mut claim_write = None;
            if to == SubscriberState::Active && was == SubscriberState::Pending {
                after.confirmed_at = Some(now.to_owned());
                update = update
                    .update_expression("SET #state = :to, gsi2pk = :gsi2pk, confirmedAt = :now REMOVE #ttl")
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":now", s(now));
                if let Some(email) = after.email.as_deref().and_then(|e| EmailAddress::parse("email", e).ok()) {
                    let claim = Update::builder()
                        .table_name(self.table())
                        .set_key(Some(claim_key(org, after.page_id, &email)))
                        .update_expression("REMOVE #ttl")
                        .expression_attribute_names("#ttl", "ttl")
                        .build()
                        .map_err(StoreError::internal)?;
                    claim_write = Some(TransactWriteItem::builder().update(claim).build());
                }
            } else {
                update = update.update_expression("SET #state = :to, gsi2pk = :gsi2pk");
            }
            let mut tx = Tx::new();
            let state_unchanged =
                tx.push(TransactWriteItem::builder().update(update.build().map_err(StoreError::internal)?).build());
            tx.extend(claim_write);
            // Active subscribers count against the page's plan: one more on the way in,
            // one less on the way out.
            let mut quota_at = None;
            if to == SubscriberState::Active && was != SubscriberState::Active {
                let plan = match plan {
                    Some(plan) => plan,
                    None => *plan.insert(self.plan_of(org).await?),
                };
                let limit = plan.limits().subscribers_per_page;
                quota_at = Some((tx.push(self.take_page_quota(org, after.page_id, Quota::Subscribers, limit)?), plan));
            } else if was == SubscriberState::Active && to != SubscriberState::Active {
                tx.push(self.give_page_quota(org, after.page_id, Quota::Subscribers)?);
            }
            let data = data_of("subscriber", &after);
            tx.push(self.event_put(org, Event::new(kind, Some(after.page_id), actor, now, data))?);
            match self.transact(tx).await {
                Ok(()) => return Ok(Some(after)),
                Err(TxError::Cancelled(reasons)) if failed_at(&reasons, state_unchanged).is_some() => continue,
                Err(TxError::Cancelled(reasons)) if quota_at.is_some_and(|(i, _)| failed_at(&reasons, i).is_some()) => {
                    let (i, plan) = quota_at.expect("checked");
                    return Err(page_quota_failure(Quota::Subscribers, plan, returned_item(&reasons, i)));
                }
                Err(e) => return Err(e.into_error()),
            }
        }
        Err(StoreError::Unavailable("the subscriber kept changing".into()))
    }
}

/// A subscriber found by its address, with when its last confirmation was asked for.
struct Claimed {
    subscriber: Subscriber,
    confirmation_sent_at: Option<String>,
}

fn confirmation_event(subscriber: &Subscriber, actor: &Actor, now: &str) -> Event {
    Event::new(
        EventType::SubscriberConfirmationRequested,
        Some(subscriber.page_id),
        actor,
        now,
        data_of("subscriber", subscriber),
    )
}

fn to_list(ids: &[Uuid]) -> AttributeValue {
    AttributeValue::L(ids.iter().map(|id| s(id.to_string())).collect())
}

impl Store {
    /// Counts a public sign-up on `page` from `client` (an address, kept only as a hash)
    /// against the hourly limits, per address first, then for the page: `Err(seconds
    /// until the hour ends)` when either is spent. Each count is one conditional update
    /// of an item that expires after the hour.
    pub async fn count_sign_up(&self, page: Uuid, client: &str, now_epoch: i64) -> Result<Result<(), u64>, StoreError> {
        use sha2::Digest as _;
        let hour = now_epoch - now_epoch.rem_euclid(3600);
        let wait = u64::try_from(hour + 3600 - now_epoch).unwrap_or(1).max(1);
        let address = crate::hex::lower(&sha2::Sha256::digest(client.as_bytes()));
        let counters = [
            (schema::sign_ups_sk(hour, Some(&address)), SIGN_UPS_PER_ADDRESS_HOUR),
            (schema::sign_ups_sk(hour, None), SIGN_UPS_PER_PAGE_HOUR),
        ];
        for (sk, limit) in counters {
            let counted = self
                .client()
                .update_item()
                .table_name(self.table())
                .key(schema::PK, s(schema::sign_ups_pk(page)))
                .key(schema::SK, s(sk))
                .update_expression("SET #n = if_not_exists(#n, :zero) + :one, #ttl = :ttl")
                .condition_expression("attribute_not_exists(#n) OR #n < :limit")
                .expression_attribute_names("#n", "count")
                .expression_attribute_names("#ttl", schema::TTL)
                .expression_attribute_values(":zero", super::n(0))
                .expression_attribute_values(":one", super::n(1))
                .expression_attribute_values(":limit", super::n(i64::from(limit)))
                .expression_attribute_values(":ttl", super::n(hour + 2 * 3600))
                .send()
                .await;
            match counted {
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                    return Ok(Err(wait));
                }
                Err(e) => return Err(super::sdk_error(e)),
            }
        }
        Ok(Ok(()))
    }

    /// How many unconfirmed subscribers `page` holds, counted up to `max` (those past
    /// their expiry, which DynamoDB deletes lazily, left out).
    pub async fn pending_subscribers(
        &self,
        org: Uuid,
        page: Uuid,
        now_epoch: i64,
        max: usize,
    ) -> Result<usize, StoreError> {
        let mut count = 0usize;
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(schema::GSI2)
                .key_condition_expression("gsi2pk = :pk")
                .filter_expression("attribute_not_exists(#ttl) OR #ttl > :now")
                .expression_attribute_names("#ttl", schema::TTL)
                .expression_attribute_values(
                    ":pk",
                    s(schema::subscribers_gsi2pk(org, page, SubscriberState::Pending.as_str())),
                )
                .expression_attribute_values(":now", super::n(now_epoch))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(super::sdk_error)?;
            count += usize::try_from(out.count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() || count >= max {
                return Ok(count);
            }
        }
    }
}

fn record(org: Uuid, item: SubscriberItem) -> SubscriberRecord {
    SubscriberRecord {
        org_id: org,
        subscriber: item.subscriber,
        secret: item.secret,
        failing_since: item.failing_since,
    }
}
