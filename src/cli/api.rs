//! `ferry api <resource> <verb> [ID] [--field value]...`: the REST API from the shell, like
//! `ngrok api`. Flags become JSON fields (`--owner-id` is `owner_id`; repeat `--acl` for a
//! list), `--limit` and `--before-id` page lists, and the answer is printed as JSON.

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};

use super::usage;

#[derive(Args, Debug)]
pub struct ApiArgs {
    /// The API key (else FERRY_API_KEY, else `api_key` of the config file, else the api_key
    /// of --data-dir's dev.json/admin.json).
    #[arg(long, env = "FERRY_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// An agent config file (ngrok.yml) whose top-level `api_key` to use; default
    /// ~/.config/ngrok/ngrok.yml when it exists.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// The API's base URL, such as the edge's ready-file `api_url`.
    #[arg(long, env = "FERRY_API_URL")]
    api_url: String,
    /// An edge data dir to take the API key from when none is given.
    #[arg(long, env = "FERRY_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// The resource, as in the API's paths with dashes: bot-users, credentials,
    /// reserved-domains, agent-ingresses, api-keys, reserved-addrs, certificate-authorities,
    /// tls-certificates, tunnel-sessions, tunnels, endpoints.
    resource: String,
    /// create, list, get, update, delete (and the resource's own actions, such as
    /// delete-certificate-management-policy, or dns-check for Check Status).
    verb: String,
    /// The resource ID (get, update, delete, actions), then `--field value` flags.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    rest: Vec<String>,
}

/// Fields whose flags repeat into a JSON list.
const LIST_FIELDS: &[&str] = &["acl"];
/// Fields that are JSON booleans.
const BOOL_FIELDS: &[&str] = &["active"];

pub async fn run(a: ApiArgs) -> anyhow::Result<()> {
    let key = api_key(&a)?;
    let resource = a.resource.replace('-', "_");
    let (id, fields) = parse_rest(&a.rest)?;
    let base = format!("/{resource}");
    let one = |id: &Option<String>| -> anyhow::Result<String> {
        match id {
            Some(id) => Ok(format!("{base}/{id}")),
            None => Err(usage(format!(
                "`ferry api {} {}` needs an ID",
                a.resource, a.verb
            ))),
        }
    };
    let (method, path, body) = match a.verb.as_str() {
        "create" => ("POST", base.clone(), Some(body(fields)?)),
        "list" => {
            let mut q = Vec::new();
            for (k, v) in &fields {
                match (k.as_str(), v.as_slice()) {
                    ("limit" | "before_id", [v]) => q.push(format!("{k}={v}")),
                    _ => {
                        return Err(usage(format!(
                            "list takes --limit and --before-id, not --{k}"
                        )))
                    }
                }
            }
            let path = if q.is_empty() {
                base.clone()
            } else {
                format!("{base}?{}", q.join("&"))
            };
            ("GET", path, None)
        }
        "get" => ("GET", one(&id)?, None),
        "update" => ("PATCH", one(&id)?, Some(body(fields)?)),
        "delete" => ("DELETE", one(&id)?, None),
        action => {
            let (method, sub) = match action.strip_prefix("delete-") {
                Some(sub) => ("DELETE", sub.replace('-', "_")),
                None => ("POST", action.replace('-', "_")),
            };
            (method, format!("{}/{sub}", one(&id)?), None)
        }
    };
    let (status, text) = call(&a.api_url, &key, method, &path, body).await?;
    if !text.is_empty() {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
            Err(_) => println!("{text}"),
        }
    }
    if status >= 400 {
        bail!("the API answered {status}");
    }
    Ok(())
}

fn api_key(a: &ApiArgs) -> anyhow::Result<String> {
    if let Some(k) = &a.api_key {
        return Ok(k.clone());
    }
    let config = a.config.clone().or_else(|| {
        std::env::var_os("HOME")
            .map(|h| std::path::PathBuf::from(h).join(".config/ngrok/ngrok.yml"))
            .filter(|p| p.exists())
    });
    if let Some(path) = config {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if let Some(k) = config_api_key(&text) {
            return Ok(k);
        }
    }
    if let Some(dir) = &a.data_dir {
        for file in ["dev.json", "admin.json"] {
            if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
                let v: Value = serde_json::from_str(&text)
                    .with_context(|| format!("reading {}", dir.join(file).display()))?;
                if let Some(k) = v["api_key"].as_str() {
                    return Ok(k.to_string());
                }
            }
        }
    }
    Err(usage(
        "no API key: pass --api-key, set FERRY_API_KEY, or point --data-dir at the edge's data dir",
    ))
}

/// The top-level `api_key: VALUE` of an ngrok.yml (v2 and v3 put it at the top level, one
/// scalar on one line), quotes removed.
fn config_api_key(yaml: &str) -> Option<String> {
    yaml.lines().find_map(|line| {
        let value = line.strip_prefix("api_key:")?;
        let value = value.split(" #").next().unwrap_or(value).trim();
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// `--field value` flags in order, each field with every value it was given.
type Fields = Vec<(String, Vec<String>)>;

/// Splits the trailing arguments into an optional ID and `--field value` pairs.
fn parse_rest(rest: &[String]) -> anyhow::Result<(Option<String>, Fields)> {
    let mut id = None;
    let mut fields: Fields = Vec::new();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.strip_prefix("--") {
            Some(flag) => {
                let (name, value) = match flag.split_once('=') {
                    Some((n, v)) => (n.to_string(), v.to_string()),
                    None => {
                        let v = it
                            .next()
                            .ok_or_else(|| usage(format!("--{flag} needs a value")))?;
                        (flag.to_string(), v.clone())
                    }
                };
                let name = name.replace('-', "_");
                match fields.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, values)) => values.push(value),
                    None => fields.push((name, vec![value])),
                }
            }
            None if id.is_none() => id = Some(arg.clone()),
            None => return Err(usage(format!("unexpected argument {arg:?}"))),
        }
    }
    Ok((id, fields))
}

/// The JSON body of a create or update.
fn body(fields: Fields) -> anyhow::Result<String> {
    let mut map = Map::new();
    for (name, values) in fields {
        let value = if LIST_FIELDS.contains(&name.as_str()) {
            Value::from(values)
        } else if values.len() > 1 {
            return Err(usage(format!(
                "--{} is given more than once",
                name.replace('_', "-")
            )));
        } else if BOOL_FIELDS.contains(&name.as_str()) {
            match values[0].as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => {
                    return Err(usage(format!(
                        "--{name} takes true or false, not {other:?}"
                    )))
                }
            }
        } else {
            Value::String(values[0].clone())
        };
        map.insert(name, value);
    }
    Ok(Value::Object(map).to_string())
}

/// One HTTP/1.1 request to the plain-HTTP API.
async fn call(
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> anyhow::Result<(u16, String)> {
    let url: http::Uri = format!("{}{path}", base.trim_end_matches('/'))
        .parse()
        .map_err(|e| usage(format!("--api-url {base:?}: {e}")))?;
    if url.scheme_str() != Some("http") {
        return Err(usage(format!(
            "--api-url {base:?}: this client speaks plain HTTP (the edge's --api-addr); put https behind a proxy's own client"
        )));
    }
    let host = url.host().unwrap_or("127.0.0.1").to_string();
    let port = url.port_u16().unwrap_or(80);
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .with_context(|| format!("connecting to {base}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(url.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header("host", format!("{host}:{port}"))
        .header("authorization", format!("Bearer {key}"))
        .header("ngrok-version", "2");
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_from_an_ngrok_yml() {
        let yaml = "version: \"2\"\nauthtoken: abc\napi_key: \"2x_secret\" # mine\ntunnels:\n  a:\n    api_key: nested\n";
        assert_eq!(config_api_key(yaml).as_deref(), Some("2x_secret"));
        assert_eq!(config_api_key("version: 2\n"), None);
    }
}
