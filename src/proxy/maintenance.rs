//! Maintenance mode with the `nginx` driver: the app's server block answers 503 with a
//! message (HTML or plain text, by the request's `Accept`) and `Retry-After`, instead of
//! proxying. The state lives in that file in the proxy container — a marker line holds the
//! message — so every machine pointed at the engine sees it, and a deploy during maintenance
//! keeps the page on.

use std::fmt::Write as _;

/// The marker line: `# bgdeploy.maintenance: {"message": ...}` (JSON, so one line).
const MARKER: &str = "# bgdeploy.maintenance: ";

/// Sent with every 503, in seconds: how soon clients may try again.
pub const RETRY_AFTER_SECS: u32 = 300;

pub const DEFAULT_MESSAGE: &str = "This service is down for maintenance. Please try again shortly.";

/// Why a message cannot go into an nginx config.
pub fn check_message(message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err("the maintenance message is empty".into());
    }
    if message.len() > 2000 {
        return Err("the maintenance message is longer than 2000 bytes".into());
    }
    if message.contains('$') {
        // nginx expands `$name` in a `return` text and has no escape for it.
        return Err(
            "the maintenance message cannot contain `$` (nginx reads it as a variable)".into(),
        );
    }
    if message.chars().any(|c| c.is_control() && c != '\n') {
        return Err("the maintenance message cannot contain control characters".into());
    }
    Ok(())
}

/// The message of a server block bgdeploy rendered in maintenance mode; `None` when the
/// block routes normally (or is not bgdeploy's).
pub fn message_of(config: &str) -> Option<String> {
    let line = config.lines().find_map(|l| l.strip_prefix(MARKER))?;
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value["message"].as_str().map(str::to_string)
}

/// The server block for `virtual_host` answering 503 with `message` (checked by
/// `check_message`).
pub fn render(app: &str, stage: &str, virtual_host: &str, message: &str) -> String {
    let names: Vec<&str> = virtual_host
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let marker = serde_json::json!({ "message": message });
    let plain = nginx_string(&format!("{message}\n"));
    let html = nginx_string(&format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Maintenance</title></head>\
         <body><h1>Maintenance</h1><p>{}</p></body></html>\n",
        html_escape(message).replace('\n', "<br>")
    ));
    // A per-app internal location, so that apps sharing one nginx do not collide.
    let page = format!(
        "/.bgdeploy-maintenance-{:08x}.html",
        super::render::fnv1a(&[app.as_bytes(), b"\0", stage.as_bytes()].concat())
    );
    let mut out = String::new();
    let _ = write!(
        out,
        "# Written by bgdeploy for {app}/{stage}: maintenance is on (`bgdeploy maintenance off {app} {stage}`).\n\
         {MARKER}{marker}\n\
         \n\
         server {{\n    listen 80;\n    server_name {names};\n\n    \
         location / {{\n        \
         if ($http_accept ~* \"text/html\") {{\n            rewrite ^ {page} last;\n        }}\n        \
         default_type text/plain;\n        \
         add_header Retry-After {RETRY_AFTER_SECS} always;\n        \
         return 503 {plain};\n    }}\n\n    \
         location = {page} {{\n        internal;\n        default_type text/html;\n        \
         add_header Retry-After {RETRY_AFTER_SECS} always;\n        \
         return 503 {html};\n    }}\n}}\n",
        names = names.join(" "),
    );
    out
}

/// A double-quoted nginx string: `\` and `"` escaped (`$` is refused by `check_message`).
fn nginx_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_holds_the_message_and_the_block_answers_503() {
        let message = "Back at 10:00 \"UTC\"\nsorry <3";
        check_message(message).expect("a usable message");
        let config = render("shop", "stage", "shop.test", message);
        assert_eq!(message_of(&config).as_deref(), Some(message));
        assert!(
            config.contains("return 503 \"Back at 10:00 \\\"UTC\\\"\nsorry <3\n\";"),
            "{config}"
        );
        assert!(config.contains("sorry &lt;3"), "{config}");
        assert!(
            config.contains("add_header Retry-After 300 always;"),
            "{config}"
        );
        assert!(config.contains("server_name shop.test;"), "{config}");
        let normal = super::super::render("shop", "stage", "shop.test", &[]);
        assert_eq!(message_of(&normal), None);
    }

    #[test]
    fn unusable_messages_are_refused() {
        assert!(check_message("costs $5").is_err());
        assert!(check_message("  ").is_err());
        assert!(check_message("bell\u{7}").is_err());
    }
}
