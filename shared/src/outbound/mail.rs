//! What an email subscriber is sent, described as data: the notifier decides what to send
//! and to whom, and a [`Mailer`] (SES v2 in the notifications crate) renders and sends
//! it. Keeps templates and the SES SDK out of the functions that never mail.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

/// The page a notice is about, as the reader sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageInfo {
    /// Its name.
    pub name: String,
    /// Its accent colour, `#rrggbb`.
    pub brand_color: String,
    /// Its public URL.
    pub url: String,
    /// Whether the public page is served (links to it are left out when not).
    pub public: bool,
    /// Its services' ids and names, to name the ones an event touches.
    pub services: Vec<(String, String)>,
}

/// What the email says.
#[derive(Clone, Debug, PartialEq)]
pub enum NoticeKind {
    /// Double opt-in: follow `confirm_url` to start receiving updates.
    Confirm {
        /// The confirmation link.
        confirm_url: String,
    },
    /// An event of the page (incident, maintenance, service status), as delivered to
    /// webhooks: its type, time and data.
    Event {
        /// `incident.created`, ...
        event_type: String,
        /// When it happened.
        timestamp: String,
        /// The resource as the change left it.
        data: serde_json::Value,
    },
    /// A test sent from the API.
    Ping,
}

/// One email to one subscriber.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// The address.
    pub to: String,
    /// The page.
    pub page: PageInfo,
    /// What it says.
    pub kind: NoticeKind,
    /// The one-click unsubscribe link (also in `List-Unsubscribe`); `None` on the
    /// confirmation email, which subscribes nobody.
    pub unsubscribe_url: Option<String>,
}

/// The future a mailer returns: `Ok` once the mail service has accepted the message,
/// `Err` with a reason to record otherwise.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Renders and sends notices.
pub trait Mailer: Send + Sync + Debug {
    /// Sends one notice.
    fn send<'a>(&'a self, notice: &'a Notice) -> Sending<'a>;
}
