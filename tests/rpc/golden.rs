//! Golden XML-RPC bodies from Python supervisord 4.3.0, checked both ways: the codec reproduces
//! every captured body from its decoded value, and our server answers every captured request
//! with the captured response, byte for byte.

use std::path::Path;

use supervisor::rpc::{xml, Value};

use super::client::{post, Server};
use super::fake::{golden, World, GOLDEN};

fn golden_files(suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(GOLDEN)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    names
}

#[test]
fn codec_reproduces_every_captured_request() {
    for name in golden_files(".request.xml") {
        let body = golden(&name);
        let call = xml::parse_call(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let encoded = xml::encode_call(&call.name, &call.params);
        assert_eq!(encoded.as_bytes(), &body[..], "{name}");
    }
}

#[test]
fn codec_reproduces_every_captured_response() {
    for name in golden_files(".response.xml") {
        let body = golden(&name);
        let encoded = match xml::parse_response(&body).unwrap_or_else(|e| panic!("{name}: {e}")) {
            Ok(value) => xml::encode_response(&value),
            Err(fault) => xml::encode_fault(&fault),
        };
        assert_eq!(encoded, String::from_utf8(body).unwrap(), "{name}");
    }
}

/// The golden world plus the log files the log-reading goldens need.
fn world_with_logs(dir: &Path) -> World {
    let mut world = World::golden();
    let Ok(Value::Array(tail)) =
        xml::parse_response(&golden("tailProcessStdoutLog.response.xml")).unwrap()
    else {
        panic!("tail golden");
    };
    let (Value::String(data), Value::Int(size)) = (&tail[0], &tail[1]) else {
        panic!("tail golden shape");
    };
    let mut content = vec![b'.'; *size as usize - data.len()];
    content.extend_from_slice(data.as_bytes());
    let echo = dir.join("echo.log");
    std::fs::write(&echo, content).unwrap();
    world.logs.insert(("echo".into(), false), echo);
    let main = dir.join("main.log");
    std::fs::write(&main, "main log\n").unwrap();
    world.main_log = Some(main);
    world
}

#[tokio::test]
async fn server_answers_captured_requests_with_captured_responses() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(world_with_logs(dir.path()), None).await;
    for case in [
        "getAPIVersion",
        "getState",
        "getIdentification",
        "getProcessInfo",
        "getProcessInfo_notstarted",
        "getProcessInfo_badname",
        "getProcessInfo_group",
        "getAllProcessInfo",
        "getAllConfigInfo",
        "tailProcessStdoutLog",
        "readProcessStderrLog_nofile",
        "readLog_badargs",
        "unknown_method",
        "incorrect_parameters",
        "listMethods",
        "methodHelp",
        "methodSignature",
        "methodSignature_unknown",
        "multicall",
        "startProcess_group",
        "signalProcess_badsignal",
        "reloadConfig",
        "sendProcessStdin",
        "typed_params",
    ] {
        let request = golden(&format!("{case}.request.xml"));
        let response = post(&mut server.unix().await, "/RPC2", &request, None).await;
        assert_eq!(response.status, 200, "{case}");
        assert_eq!(response.header("content-type"), Some("text/xml"), "{case}");
        let expected = String::from_utf8(golden(&format!("{case}.response.xml"))).unwrap();
        assert_eq!(response.text(), expected, "{case}");
    }
    server.stop().await;
}
