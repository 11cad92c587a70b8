//! The small pages Ferry answers with when a request cannot reach its upstream, for the edge
//! and the agent alike: HTML for people, JSON for programs that ask for it.

use crate::ErrorCode;

/// Returns the content type and the body of an error page for `code`.
pub fn render(code: ErrorCode, detail: &str, json: bool) -> (&'static str, String) {
    if json {
        let body = format!(
            "{{\"error_code\":\"{code}\",\"status_code\":{status},\"msg\":\"{msg}\",\"details\":{{\"detail\":\"{detail}\"}}}}",
            status = code.http_status(),
            msg = json_escape(code.title()),
            detail = json_escape(detail),
        );
        return ("application/json", body);
    }
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{status} - Ferry</title></head>\n<body>\n<h1>{title}</h1>\n<p>{detail}</p>\n<p><code>{code}</code></p>\n</body></html>\n",
        status = code.http_status(),
        title = html_escape(code.title()),
        detail = html_escape(detail),
    );
    ("text/html; charset=utf-8", html)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_the_code_and_escape_the_detail() {
        let (ct, html) = render(ErrorCode::EndpointNotFound, "<script>", false);
        assert!(ct.starts_with("text/html"));
        assert!(html.contains("ERR_FERRY_801") && html.contains("&lt;script&gt;"));
        let (ct, json) = render(ErrorCode::AgentOffline, "a \"quoted\" host", true);
        assert_eq!(ct, "application/json");
        assert!(json.contains("\"error_code\":\"ERR_FERRY_802\""));
        assert!(json.contains("\\\"quoted\\\""));
        assert!(json.contains("\"status_code\":502"));
    }
}
