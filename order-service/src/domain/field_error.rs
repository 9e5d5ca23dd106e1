//! A client's input that breaks a rule, with the field it concerns.

/// A field whose value breaks a rule; the HTTP layer answers it with 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The JSON path of the field (`items[2].quantity`).
    pub field: String,
    /// What is wrong, in words a client can act on.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The Unicode bidirectional formatting characters: embeddings, overrides and isolates, and the
/// invisible direction marks. Unicode's own security guidance (UTS #39, the "Trojan Source"
/// attacks) lists them as the characters that reorder how text displays.
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks that `text`, trimmed, is 1 to `max` characters without control characters or
/// direction controls.
pub(crate) fn bounded_text(field: &str, text: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be blank"));
    }
    if trimmed.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    if let Some(mark) = trimmed.chars().find(|&c| is_direction_control(c)) {
        return Err(FieldError::new(
            field,
            format!(
                "must not contain direction controls (U+{:04X}): they make the text display as \
                 something other than what is stored",
                u32::from(mark)
            ),
        ));
    }
    Ok(trimmed.to_owned())
}
