//! A scripted Anthropic Messages API on loopback, for driving the real Claude Code offline.
//!
//! Claude Code 2.1 sends every model request as `POST /v1/messages?beta=true` with
//! `"stream": true` and reads server-sent events. Its agent loop's requests carry the
//! tools; a request without tools is a side query (WebFetch hands the fetched page to a
//! small model with the user's question). The script answers the agent loop turn by turn
//! (the turn is the number of assistant messages already in the conversation) and answers
//! a side query by quoting the page back, as a model that reads it would. Every agent-loop
//! request is kept, so a test reads what Claude Code told the model: the `tool_result` of
//! each call, which carries a hook's reason when the hook refused it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

/// The scripted model: what it answers at each turn, and the requests it was sent.
#[derive(Debug)]
pub struct ScriptedApi {
    /// `http://127.0.0.1:PORT`, for `ANTHROPIC_BASE_URL`.
    pub url: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl ScriptedApi {
    /// Starts the API; `turns[i]` is the content of the assistant's `i`-th message (text
    /// and `tool_use` blocks). Past the script the model says it is done.
    pub fn start(turns: Vec<Vec<Value>>) -> ScriptedApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the scripted API");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let turns = Arc::new(turns);
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (turns, seen) = (Arc::clone(&turns), Arc::clone(&seen));
                thread::spawn(move || serve(stream, &turns, &seen));
            }
        });
        ScriptedApi { url, requests }
    }

    /// The agent loop's requests, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().expect("the request log").clone()
    }

    /// The `tool_result` block Claude Code sent back for the call `tool_use_id`.
    pub fn tool_result(&self, tool_use_id: &str) -> Option<Value> {
        self.requests().iter().rev().find_map(|request| {
            request["messages"].as_array()?.iter().find_map(|message| {
                message["content"].as_array()?.iter().find_map(|block| {
                    (block["type"] == "tool_result" && block["tool_use_id"] == tool_use_id)
                        .then(|| block.clone())
                })
            })
        })
    }
}

/// The text of a `tool_result` (a string, or text blocks).
pub fn result_text(result: &Value) -> String {
    match &result["content"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => {
            blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n")
        }
        other => other.to_string(),
    }
}

/// Reads one HTTP/1.1 request (Claude Code sends a `Content-Length`): (request line, body).
pub fn read_request(stream: &mut impl Read) -> Option<(String, Vec<u8>)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((line.trim_end().to_owned(), body))
}

/// Writes a whole response and closes the connection.
pub fn respond(stream: &mut impl Write, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn serve(mut stream: TcpStream, turns: &[Vec<Value>], seen: &Mutex<Vec<Value>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Some((line, body)) = read_request(&mut stream) else { return };
    let path = line.split(' ').nth(1).unwrap_or_default();
    let messages = path == "/v1/messages" || path.starts_with("/v1/messages?");
    if !line.starts_with("POST ") || !messages {
        let error = json!({"type": "error", "error": {"type": "not_found_error", "message": line}});
        respond(&mut stream, "404 Not Found", "application/json", error.to_string().as_bytes());
        return;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        respond(&mut stream, "400 Bad Request", "application/json", b"{}");
        return;
    };
    let agent_loop = request["tools"].as_array().is_some_and(|tools| !tools.is_empty());
    let content = if agent_loop {
        seen.lock().expect("the request log").push(request.clone());
        next_turn(turns, &request)
    } else {
        vec![json!({"type": "text", "text": quote_back(&request)})]
    };
    let stop =
        if content.iter().any(|b| b["type"] == "tool_use") { "tool_use" } else { "end_turn" };
    if request["stream"] == true {
        respond(&mut stream, "200 OK", "text/event-stream", events(&content, stop).as_bytes());
    } else {
        let message = json!({
            "id": "msg_scripted", "type": "message", "role": "assistant",
            "model": request["model"], "content": content, "stop_reason": stop,
            "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 10},
        });
        respond(&mut stream, "200 OK", "application/json", message.to_string().as_bytes());
    }
}

/// The first scripted turn whose tool calls are not in the conversation yet (Claude Code
/// merges consecutive assistant messages, so counting them does not tell the turn); past
/// the tool calls, the script's closing text.
fn next_turn(turns: &[Vec<Value>], request: &Value) -> Vec<Value> {
    let asked: Vec<&Value> = request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "assistant")
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_use")
        .map(|block| &block["id"])
        .collect();
    let pending = |turn: &&Vec<Value>| {
        turn.iter().any(|block| block["type"] == "tool_use" && !asked.contains(&&block["id"]))
    };
    let closing = |turn: &&Vec<Value>| turn.iter().all(|block| block["type"] != "tool_use");
    turns
        .iter()
        .find(pending)
        .or_else(|| turns.iter().find(closing))
        .cloned()
        .unwrap_or_else(|| vec![json!({"type": "text", "text": "Done."})])
}

/// A side query's answer: the text it was given (WebFetch's page), quoted.
fn quote_back(request: &Value) -> String {
    let last = request["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or_default();
    let text = match &last["content"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => {
            blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    };
    format!("The page says:\n{text}")
}

/// The server-sent events of one streamed message.
fn events(content: &[Value], stop: &str) -> String {
    let mut out = String::new();
    let mut event = |name: &str, data: Value| {
        out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    };
    event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_scripted", "type": "message", "role": "assistant",
            "model": "claude-scripted", "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1},
        }}),
    );
    for (index, block) in content.iter().enumerate() {
        let (start, delta) = if block["type"] == "tool_use" {
            (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
            )
        } else {
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            )
        };
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
        event("content_block_stop", json!({"type": "content_block_stop", "index": index}));
    }
    event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
               "usage": {"output_tokens": 10}}),
    );
    event("message_stop", json!({"type": "message_stop"}));
    out
}
