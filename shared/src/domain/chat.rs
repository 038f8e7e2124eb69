//! Chat channels as the API takes them: the services (Slack, Discord, Microsoft Teams,
//! Google Chat), which incoming-webhook URLs each accepts, and how a channel's URL is
//! shown. A channel's URL is its credential: it is stored sealed and shown [`redact`]ed.
//! On a deployment the URL must be on its service's webhook hosts; the local run (which
//! allows private targets) takes any URL, so tests post to a local receiver. The messages
//! themselves are rendered in `outbound::chat`.

/// A chat service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatKind {
    /// Slack incoming webhook (`https://hooks.slack.com/services/…`).
    Slack,
    /// Discord channel webhook (`https://discord.com/api/webhooks/…`).
    Discord,
    /// Microsoft Teams: a Workflows "post to a channel when a webhook request is
    /// received" URL, or a (retiring) Office 365 connector URL.
    Teams,
    /// Google Chat space webhook (`https://chat.googleapis.com/v1/spaces/…`).
    GoogleChat,
}

impl ChatKind {
    /// Every chat service.
    pub const ALL: [Self; 4] = [Self::Slack, Self::Discord, Self::Teams, Self::GoogleChat];

    /// The wire name: `slack`, `discord`, `teams`, `googlechat`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Teams => "teams",
            Self::GoogleChat => "googlechat",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The service's name, for people.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Slack => "Slack",
            Self::Discord => "Discord",
            Self::Teams => "Microsoft Teams",
            Self::GoogleChat => "Google Chat",
        }
    }

    /// Where the service's webhook URLs live, for an error message.
    pub const fn hosts(self) -> &'static str {
        match self {
            Self::Slack => "https://hooks.slack.com/services/…",
            Self::Discord => "https://discord.com/api/webhooks/…",
            Self::Teams => "a Workflows URL (…logic.azure.com or …powerplatform.com) or …webhook.office.com",
            Self::GoogleChat => "https://chat.googleapis.com/v1/spaces/…",
        }
    }

    /// Whether `url` is one of the service's incoming-webhook URLs (`https`, its hosts,
    /// its path). Checked on deployments, where a chat subscriber must not be a way to
    /// post unsigned JSON anywhere.
    pub fn accepts(self, url: &str) -> bool {
        let Ok(url) = url::Url::parse(url) else { return false };
        let host = url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
        let path = url.path();
        let under = |suffix: &str| host.ends_with(suffix) && host.len() > suffix.len();
        url.scheme() == "https"
            && match self {
                Self::Slack => {
                    matches!(host.as_str(), "hooks.slack.com" | "hooks.slack-gov.com") && path.starts_with("/services/")
                }
                Self::Discord => {
                    matches!(host.as_str(), "discord.com" | "discordapp.com" | "ptb.discord.com" | "canary.discord.com")
                        && path.starts_with("/api/webhooks/")
                }
                Self::Teams => {
                    under(".webhook.office.com") || under(".logic.azure.com") || under(".api.powerplatform.com")
                }
                Self::GoogleChat => host == "chat.googleapis.com" && path.starts_with("/v1/spaces/"),
            }
    }
}

/// A channel's webhook URL as it may be shown: the URL is the channel's credential
/// (anyone holding it can post there), so its last path segment keeps only its last four
/// characters and a query is hidden: `https://hooks.slack.com/services/T0/B0/…Wxyz`. The
/// whole URL is stored sealed, bound to its subscriber.
pub fn redact(raw: &str) -> String {
    let Ok(url) = url::Url::parse(raw) else { return "…".to_owned() };
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    let segments: Vec<&str> = url.path().split('/').skip(1).collect();
    if let Some((last, rest)) = segments.split_last() {
        for segment in rest {
            shown.push('/');
            shown.push_str(segment);
        }
        let count = last.chars().count();
        let tail: String = if count > 8 { last.chars().skip(count - 4).collect() } else { String::new() };
        shown.push_str(&format!("/…{tail}"));
    }
    if url.query().is_some() {
        shown.push_str("?…");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_takes_only_its_own_webhook_urls() {
        let ok = [
            (ChatKind::Slack, "https://hooks.slack.com/services/T000/B000/XXXX"),
            (ChatKind::Discord, "https://discord.com/api/webhooks/123/abc"),
            (ChatKind::Discord, "https://canary.discord.com/api/webhooks/123/abc"),
            (ChatKind::Teams, "https://acme.webhook.office.com/webhookb2/x@y/IncomingWebhook/z/w"),
            (
                ChatKind::Teams,
                "https://prod-12.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x",
            ),
            (
                ChatKind::Teams,
                "https://default0a1b.02.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/x",
            ),
            (ChatKind::GoogleChat, "https://chat.googleapis.com/v1/spaces/AAA/messages?key=k&token=t"),
        ];
        for (kind, url) in ok {
            assert!(kind.accepts(url), "{kind:?} {url}");
            for other in ChatKind::ALL.into_iter().filter(|k| *k != kind) {
                assert!(!other.accepts(url), "{other:?} must refuse {url}");
            }
        }
        for (kind, url) in [
            (ChatKind::Slack, "http://hooks.slack.com/services/T/B/X"),
            (ChatKind::Slack, "https://hooks.slack.com.evil.example/services/T/B/X"),
            (ChatKind::Slack, "https://hooks.slack.com/triggers/T/B/X"),
            (ChatKind::Discord, "https://discord.com/channels/1/2"),
            (ChatKind::Discord, "https://evildiscord.com/api/webhooks/1/a"),
            (ChatKind::Teams, "https://webhook.office.com/x"),
            (ChatKind::Teams, "https://logic.azure.com.evil.example/workflows"),
            (ChatKind::GoogleChat, "https://chat.googleapis.com/v1/other"),
            (ChatKind::GoogleChat, "not a url"),
        ] {
            assert!(!kind.accepts(url), "{kind:?} must refuse {url}");
        }
    }

    #[test]
    fn a_channel_url_is_shown_without_its_credential() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T000/B000/abcdefghijklWxyz"),
            "https://hooks.slack.com/services/T000/B000/…Wxyz"
        );
        assert_eq!(
            redact("https://chat.googleapis.com/v1/spaces/AAA/messages?key=k&token=t"),
            "https://chat.googleapis.com/v1/spaces/AAA/…?…"
        );
        assert_eq!(redact("http://127.0.0.1:8080/short"), "http://127.0.0.1:8080/…");
    }
}
