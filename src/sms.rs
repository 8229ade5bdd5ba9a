//! Text messages to residents' phones: the one-time codes that confirm a registration
//! (`POST /v1/residents`). Sending is the deployment's SMS provider's job; the service holds
//! an [`SmsGateway`] in its state and never learns whether a message arrived.

use async_trait::async_trait;

/// Why a message could not be handed to the provider.
#[derive(Debug, thiserror::Error)]
#[error("SMS gateway: {0}")]
pub struct SmsError(pub String);

/// Where one-time codes go. A deployment plugs in its provider (阿里云短信, 腾讯云短信 …)
/// here; tests plug in one that keeps the codes.
#[async_trait]
pub trait SmsGateway: Send + Sync {
    /// Sends `code` to the mainland mobile number `phone` (11 digits), valid for `minutes`.
    async fn send_code(&self, phone: &str, code: &str, minutes: u32) -> Result<(), SmsError>;
}

/// The default: no provider is configured, so no resident can confirm a number. Says so in
/// the log at every attempt (without the code: it would be a way around confirmation).
#[derive(Debug, Default)]
pub struct Unconfigured;

#[async_trait]
impl SmsGateway for Unconfigured {
    async fn send_code(&self, phone: &str, _code: &str, _minutes: u32) -> Result<(), SmsError> {
        tracing::warn!(
            phone = %masked(phone),
            "no SMS gateway is configured: the registration code cannot be delivered"
        );
        Ok(())
    }
}

/// `serve --demo`: writes the code to the log, so that someone trying the service can
/// register without a provider. Never for a real deployment.
#[derive(Debug, Default)]
pub struct DemoLog;

#[async_trait]
impl SmsGateway for DemoLog {
    async fn send_code(&self, phone: &str, code: &str, minutes: u32) -> Result<(), SmsError> {
        tracing::info!(
            phone = %masked(phone),
            code,
            minutes,
            "demo SMS gateway: registration code (a real deployment sends it by SMS)"
        );
        Ok(())
    }
}

/// `138****5678`: enough to tell numbers apart in a log, not enough to call one.
pub fn masked(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..3], &chars[chars.len() - 4..]);
    format!(
        "{}{}{}",
        head.iter().collect::<String>(),
        "*".repeat(chars.len() - 7),
        tail.iter().collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_show_only_the_ends_of_a_number() {
        assert_eq!(masked("13812345678"), "138****5678");
        assert_eq!(masked("123"), "***");
    }
}
