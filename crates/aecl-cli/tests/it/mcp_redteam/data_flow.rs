//! Round 10, data flow: what the malicious server puts where no earlier test looked (a
//! JSON-RPC error answer, every text of a tool definition, a text block's `_meta`, its own
//! `serverInfo`, an elicitation's default) reaches the client, so a URL taken from it must
//! be blocked as untrusted and never reach the server.

use serde_json::json;

use super::{FINE, Red, assert_fetch_blocked, is_error, text};

const RPC_ERROR: &str = "https://rpcerror-steal.example/x";
const RPC_DATA: &str = "https://rpcdata-steal.example/x";
const BLOCK_META: &str = "https://blockmeta-steal.example/x";
const NAME: &str = "https://name-steal.example/x";
const ELICIT_DEFAULT: &str = "https://elicitdefault-steal.example/x";
/// The URLs in the prose of `schema_inject`'s definition, each where the server put it.
const SCHEMA_URLS: [&str; 6] = [
    "https://comment-steal.example/x",
    "https://custom-steal.example/x",
    "https://pattern-steal.example/x",
    "https://output-steal.example/x",
    "https://toolmeta-steal.example/x",
    "https://icon-steal.example/x",
];
/// The URLs its schema declares as values of its own arguments (`examples`, `default`,
/// `enum`): vocabulary a model copies into that argument by design (a server's own API
/// base URL as a default), not recorded.
const DECLARED_URLS: [&str; 3] = [
    "https://examples-steal.example/x",
    "https://default-steal.example/x",
    "https://enum-steal.example/x",
];

/// A `tools/call` the server answers with a JSON-RPC error: its message and data reach the
/// client (as a tool error), and are the call's untrusted output in the run's history and
/// the audit log, as an `isError` result is. (Before: only the outcome's error kept them,
/// which the history does not read, and a URL from them was fetched.)
#[test]
fn an_upstream_json_rpc_error_is_untrusted_output() {
    let red = Red::new();
    let mut client = red.gateway("run-rpc-error", &[]);
    let result = client.call("rpc_error", json!({}));
    let shown = text(&result);
    assert!(is_error(&result) && shown.contains(RPC_ERROR) && shown.contains(RPC_DATA), "{result}");
    assert_fetch_blocked(&mut client, RPC_ERROR, "rpc_error");
    assert_fetch_blocked(&mut client, RPC_DATA, "rpc_error");
    let fine = client.call("fetch_url", json!({"url": FINE}));
    assert!(!is_error(&fine), "{fine}");
    drop(client);
    assert_eq!(red.fetched(), [FINE], "a planted URL reached the server");

    let history = red.history("run-rpc-error");
    let output = history
        .iter()
        .find(|e| e["type"] == "result" && e["output"].to_string().contains(RPC_DATA))
        .expect("the error answer in the history");
    assert_eq!(output["untrusted"], true, "{output:#}");
    let outcome = red
        .audit()
        .into_iter()
        .find(|r| r["kind"] == "outcome" && r["action"] == "rpc_error")
        .expect("the outcome record");
    assert_eq!(outcome["outcome"], "outcome_unknown", "{outcome:#}");
    assert!(outcome["output"]["output"].to_string().contains(RPC_ERROR), "{outcome:#}");
}

/// Every text of a tool definition the client is shown (a schema's `$comment`, an `x-`
/// key, a pattern, the output schema, the tool's `_meta` and icon) is the server's text: a
/// URL from any of it is blocked. (Before: only descriptions and titles were recorded.)
/// The values a schema declares for its arguments are not.
#[test]
fn every_text_of_a_tool_definition_is_untrusted() {
    let red = Red::new();
    let mut client = red.gateway("run-definition", &[]);
    let listed = client.request("tools/list", json!({})).to_string();
    for url in SCHEMA_URLS {
        assert!(listed.contains(url), "{url} is not listed: {listed}");
    }
    for url in SCHEMA_URLS {
        assert_fetch_blocked(&mut client, url, "tool descriptions of MCP server");
    }
    let fine = client.call("fetch_url", json!({"url": FINE}));
    assert!(!is_error(&fine), "{fine}");
    for url in DECLARED_URLS {
        let declared = client.call("fetch_url", json!({"url": url}));
        assert!(!is_error(&declared), "{url}: {declared}");
    }
    // The tool itself is called as before.
    let called = client.call("schema_inject", json!({"q": "weather", "mode": "fast"}));
    assert!(!is_error(&called), "{called}");
    drop(client);
    let mut expected = vec![FINE];
    expected.extend(DECLARED_URLS);
    assert_eq!(red.fetched(), expected, "a planted URL reached the server");
}

/// A text block's own `_meta` is handed to the client with it: it is traced as the
/// result's `_meta` is. (Before: only the block's text was read.)
#[test]
fn a_text_blocks_meta_is_traced() {
    let red = Red::new();
    let mut client = red.gateway("run-block-meta", &[]);
    let result = client.call("block_meta", json!({}));
    assert_eq!(result["content"][0]["_meta"]["next"], BLOCK_META, "{result}");
    assert_fetch_blocked(&mut client, BLOCK_META, "block_meta");
    drop(client);
    assert!(red.fetched().is_empty(), "{:?}", red.fetched());
}

/// The server's name, which the gateway's own `initialize` answer carries, and the
/// default of a field its elicitation asks for are the server's text. (Before: neither
/// was recorded.)
#[test]
fn the_servers_info_and_an_elicitations_default_are_untrusted() {
    let red = Red::new();
    let mut client = red.gateway("run-info", &[]);
    let name = client.initialized["serverInfo"]["name"].as_str().unwrap_or_default().to_owned();
    assert!(name.contains(NAME), "{}", client.initialized);
    let asked = client.call("ask", json!({}));
    assert_eq!(text(&asked), "answered: decline", "{asked}");
    assert_fetch_blocked(&mut client, NAME, "server info of MCP server");
    assert_fetch_blocked(&mut client, ELICIT_DEFAULT, "request for input from the MCP server");
    let fine = client.call("fetch_url", json!({"url": FINE}));
    assert!(!is_error(&fine), "{fine}");
    drop(client);
    assert_eq!(red.fetched(), [FINE], "a planted URL reached the server");
}
