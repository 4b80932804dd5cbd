//! The `wecom-sim crypto` interface, run as a user runs it.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test set-up failures should stop the test"
)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_wecom-sim");
const APP: [&str; 6] = [
    "--token",
    "QDG6eK",
    "--aes-key",
    "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "--receive-id",
    "wx5823bf96d3bd56c7",
];
const POST: &str = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>";

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs wecom-sim");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(input) = stdin {
        // A run that rejects its arguments may exit before it reads its input: the
        // pipe is then closed, and what it printed is what the test looks at.
        match pipe.write_all(input.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            written => written.expect("writes stdin"),
        }
    }
    drop(pipe);
    child.wait_with_output().expect("finishes")
}

fn args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(APP.iter()).chain(tail).copied().collect()
}

#[test]
fn verify_url_prints_the_echo_exactly() {
    for echostr in [
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
        "P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D",
    ] {
        let out = run(
            &args(
                &["crypto", "verify-url"],
                &[
                    "--msg-signature",
                    "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
                    "--timestamp",
                    "1409659589",
                    "--nonce",
                    "263014780",
                    "--echostr",
                    echostr,
                ],
            ),
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"1616140317555161061");
    }
}

#[test]
fn verify_url_failure_prints_code_and_hint_and_exits_1() {
    let out = run(
        &args(
            &["crypto", "verify-url"],
            &[
                "--msg-signature",
                "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
                "--timestamp",
                "1409659589",
                "--nonce",
                "263014781",
                "--echostr",
                "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
            ],
        ),
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].starts_with("error -40001 ValidateSignature_Error: "),
        "{err}"
    );
    // The signature we computed, so a wrong Token and a mis-copied signature differ.
    assert!(
        lines[1].starts_with("computed msg_signature: ")
            && lines[1].contains("(given: 5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3)"),
        "{err}"
    );
    assert!(!err.contains("QDG6eK"), "never the Token");
    assert!(lines[2].starts_with("hint: "), "{err}");
    assert!(!err.contains("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"));
}

#[test]
fn decrypt_reads_stdin_or_a_file() {
    let tail = [
        "--msg-signature",
        "477715d11cdb4164915debcba66cb864d751f3e6",
        "--timestamp",
        "1409659813",
        "--nonce",
        "1372623149",
        "--body-file",
        "-",
    ];
    let out = run(&args(&["crypto", "decrypt"], &tail), Some(POST));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>";
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    let dir = std::env::temp_dir().join(format!("wecom-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("body.xml");
    std::fs::write(&file, POST).expect("writes");
    let file = file.to_string_lossy().into_owned();
    let mut tail = tail;
    tail[7] = &file;
    let out = run(&args(&["crypto", "decrypt"], &tail), None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    let out = run(
        &args(&["crypto", "decrypt"], &tail[..6])
            .into_iter()
            .chain(["--body-file", "/nonexistent/body.xml"])
            .collect::<Vec<_>>(),
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn decrypt_with_bad_body_reports_parse_error() {
    let out = run(
        &args(
            &["crypto", "decrypt"],
            &[
                "--msg-signature",
                "477715d11cdb4164915debcba66cb864d751f3e6",
                "--timestamp",
                "1409659813",
                "--nonce",
                "1372623149",
                "--body-file",
                "-",
            ],
        ),
        Some("<xml><Encrypt>"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error -40002 ParseXml_Error: "));
}

#[test]
fn encrypt_matches_the_wechatpy_vector_and_sign_agrees() {
    let plaintext = "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>";
    let out = run(
        &[
            "crypto",
            "encrypt",
            "--token",
            "123456",
            "--aes-key",
            "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
            "--receive-id",
            "wx49f0ab532d5d035a",
            "--timestamp",
            "1411525903",
            "--nonce",
            "461056294",
            "--plaintext-file",
            "-",
            "--random",
            "1234567890123456",
        ],
        Some(plaintext),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.starts_with("<xml>\n<Encrypt><![CDATA[9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk"), "{xml}");
    assert!(xml.contains(
        "<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>"
    ));

    let encrypted = xml
        .split("<![CDATA[")
        .nth(1)
        .and_then(|r| r.split("]]>").next())
        .expect("encrypt");
    let out = run(
        &[
            "crypto",
            "sign",
            "--token",
            "123456",
            "--timestamp",
            "1411525903",
            "--nonce",
            "461056294",
            "--encrypted",
            encrypted,
        ],
        None,
    );
    assert_eq!(out.stdout, b"407518b7649e86ef23978113f92d27afa9296533");
}

#[test]
fn bad_key_is_40004() {
    let out = run(
        &[
            "crypto",
            "encrypt",
            "--token",
            "t",
            "--aes-key",
            "short",
            "--receive-id",
            "",
            "--timestamp",
            "1",
            "--nonce",
            "n",
            "--plaintext-file",
            "-",
        ],
        Some("x"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error -40004 IllegalAesKey: "));
}

#[test]
fn decrypt_failures_say_what_was_copied_wrong() {
    let head = [
        "--timestamp",
        "1409659813",
        "--nonce",
        "1372623149",
        "--body-file",
        "-",
    ];
    // A JSON body without --json.
    let tail: Vec<&str> = [
        "--msg-signature",
        "477715d11cdb4164915debcba66cb864d751f3e6",
    ]
    .into_iter()
    .chain(head)
    .collect();
    let out = run(
        &args(&["crypto", "decrypt"], &tail),
        Some(r#"{"encrypt":"abc"}"#),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("note: the body is JSON; decrypt it with --json"),
        "{err}"
    );

    // A `+` turned into a space by a second URL decoding.
    let spaced = POST.replace('+', " ");
    let out = run(&args(&["crypto", "decrypt"], &tail), Some(&spaced));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error -40001"), "{err}");
    assert!(err.contains("computed msg_signature: "), "{err}");
    assert!(
        err.contains("a value holds a space where base64 has `+`"),
        "{err}"
    );
}

#[test]
fn encrypt_has_no_receive_id_check_flag() {
    let out = run(
        &args(
            &["crypto", "encrypt"],
            &[
                "--timestamp",
                "1",
                "--nonce",
                "n",
                "--plaintext-file",
                "-",
                "--skip-receive-id-check",
            ],
        ),
        Some("x"),
    );
    assert_eq!(out.status.code(), Some(2), "clap rejects the flag");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--skip-receive-id-check"));
}

#[test]
fn serve_reports_its_address_and_answers() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(BIN)
        .args(["serve", "--corp-id", "wwcli", "--secret", "s1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line");
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the address")
        .to_owned();
    let answer = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // reqwest is built without a default crypto provider (the workspace uses ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        rt.block_on(async {
            let v: serde_json::Value = reqwest::get(format!(
                "{addr}/cgi-bin/gettoken?corpid=wwcli&corpsecret=s1"
            ))
            .await
            .expect("answers")
            .json()
            .await
            .expect("json");
            v
        })
    })
    .join()
    .expect("thread");
    child.kill().expect("stops");
    let _ = child.wait();
    assert_eq!(answer["errcode"], 0);
    assert!(answer["access_token"].is_string());
}

#[test]
fn chat_reads_a_pipe() {
    // No bot listens on port 9: the conversation still runs and says so.
    let out = run(
        &[
            "chat",
            "--url",
            "http://127.0.0.1:9/cb",
            "--token",
            "QDG6eK",
            "--aes-key",
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            "--receive-id",
            "wx5823bf96d3bd56c7",
        ],
        Some("/user lisi\n营业时间\n/quit\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("now lisi\nlisi (now): 营业时间\nbot: (not delivered: "),
        "{text}"
    );
}

/// A minimal AI bot: an open stream for a text, its end for the first poll.
fn stream_bot(body: &str, query: &std::collections::HashMap<String, String>) -> String {
    let crypto = wecom_sdk_crypto::CallbackCrypto::new(
        "aibotCliToken",
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        "",
    )
    .unwrap();
    let (sig, ts, nonce) = (
        &query["msg_signature"],
        &query["timestamp"],
        &query["nonce"],
    );
    let plain = crypto.decrypt_json_message(sig, ts, nonce, body).unwrap();
    let m: serde_json::Value = serde_json::from_str(&plain).unwrap();
    let reply = if m["msgtype"] == "stream" {
        serde_json::json!({"msgtype":"stream","stream":{"id":"s1","finish":true,"content":"查询中…已签收"}})
    } else {
        let text = m["text"]["content"].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            text, "@小助手\u{2005}查快递",
            "the mention as WeCom writes it"
        );
        assert_eq!(m["chatid"], "wrCli");
        serde_json::json!({"msgtype":"stream","stream":{"id":"s1","finish":false,"content":"查询中…"}})
    };
    crypto
        .encrypt_json_reply(&reply.to_string(), ts, nonce)
        .unwrap()
}

#[test]
fn aibot_follows_a_stream_with_polls_until_it_finishes() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/wecom/aibot", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/wecom/aibot",
        axum::routing::post(
            |axum::extract::Query(q): axum::extract::Query<
                std::collections::HashMap<String, String>,
            >,
             body: String| async move { stream_bot(&body, &q) },
        ),
    );
    rt.spawn(async move { axum::serve(listener, router).await });
    let out = run(
        &[
            "aibot",
            "--url",
            &url,
            "--token",
            "aibotCliToken",
            "--aes-key",
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            "--text",
            "查快递",
            "--group",
            "wrCli",
            "--mention",
            "小助手",
            "--poll-every",
            "20ms",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("查询中…"), "{stdout}");
    assert!(stdout.contains("已签收"), "{stdout}");
    assert!(
        stdout.contains("1 refresh polls; finished: true"),
        "{stdout}"
    );
}
