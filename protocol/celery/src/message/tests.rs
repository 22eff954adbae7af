//! Unit tests for the message types that the golden tests do not reach.

use chrono::{TimeZone, Utc};

use super::*;
use crate::json::PyValue;

#[test]
fn isoformat_matches_python() {
    let t = Utc.with_ymd_and_hms(2026, 11, 22, 7, 48, 49).unwrap();
    assert_eq!(isoformat_utc(t), "2026-11-22T07:48:49+00:00");
    let t = t + chrono::Duration::microseconds(519_613);
    assert_eq!(isoformat_utc(t), "2026-11-22T07:48:49.519613+00:00");
    assert_eq!(isoformat_utc(t + chrono::Duration::nanoseconds(999)), "2026-11-22T07:48:49.519613+00:00");
}

#[test]
fn lenient_iso_parsing_like_isoparse() {
    let want =
        Utc.with_ymd_and_hms(2026, 11, 22, 7, 48, 49).unwrap() + chrono::Duration::microseconds(519_613);
    for text in [
        "2026-11-22T07:48:49.519613+00:00",
        "2026-11-22T07:48:49.519613Z",
        "2026-11-22T07:48:49.519613123Z",
        "2026-11-22T07:48:49.519613",
        "2026-11-22 07:48:49.519613+0000",
        "2026-11-22T08:48:49.519613+01",
        "2026-11-22T02:18:49.519613-05:30",
        "20261122T074849.519613Z",
        "2026-11-22T07:48:49,519613Z",
    ] {
        assert_eq!(parse_iso_lenient(text), Some(want), "{text}");
    }
    assert_eq!(parse_iso_lenient("2026-11-22"), Some(Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()));
    assert_eq!(
        parse_iso_lenient("2026-11-22T07:48"),
        Some(Utc.with_ymd_and_hms(2026, 11, 22, 7, 48, 0).unwrap())
    );
    for bad in [
        "",
        "tomorrow",
        "2026-13-01T00:00:00",
        "2026-11-22T25:00:00",
        "2026-11-22T07:48:49+25:00",
        "2026-11-22X07:48",
        "2026-11-22T07:48:49.Z",
        "２０２６-11-22",
    ] {
        assert_eq!(parse_iso_lenient(bad), None, "{bad}");
    }
}

#[test]
fn priority_follows_kombu() {
    let p = |v: PyValue| effective_priority(Some(&v));
    assert_eq!(p(PyValue::Int(5)), 5);
    assert_eq!(p(PyValue::Int(42)), 9);
    assert_eq!(p(PyValue::Int(-3)), 0);
    assert_eq!(p(PyValue::from("7")), 7);
    assert_eq!(p(PyValue::from("x")), 0);
    assert_eq!(p(PyValue::Float(6.9)), 6);
    assert_eq!(p(PyValue::Null), 0);
    assert_eq!(effective_priority(None), 0);
}

#[test]
fn control_request_round_trip_and_destination() {
    let mut req = ControlRequest::new("revoke", crate::pydict! {"task_id" => "abc", "terminate" => true});
    req.destination = Some(vec!["w1@host".into()]);
    let env = ControlMessage::build(&req, 7, Some(1795333845.5));
    let back = ControlMessage::decode(&env.to_bytes()).unwrap();
    assert_eq!(back.request, req);
    assert_eq!((back.clock, back.expires), (Some(7), Some(1795333845.5)));
    assert!(back.request.is_for_destination("w1@host"));
    assert!(!back.request.is_for_destination("w2@host"));
    assert_eq!(
        String::from_utf8(back.envelope.body_bytes().unwrap()).unwrap(),
        r#"{"method": "revoke", "arguments": {"task_id": "abc", "terminate": true}, "destination": ["w1@host"], "pattern": null, "matcher": null}"#
    );
}

#[test]
fn events_route_by_type() {
    assert_eq!(routing_key_for("task-succeeded"), "task.succeeded");
    let ev =
        EventMessage::single("w@h", crate::pydict! {"type" => "worker-online", "hostname" => "w@h"}).unwrap();
    assert_eq!(ev.routing_key, "worker.online");
    let env = ev.to_envelope();
    assert_eq!(env.delivery_info().unwrap().exchange, "celeryev");
    assert_eq!(EventMessage::decode(&env.to_bytes()).unwrap(), ev);
    let multi = EventMessage::multi("w@h", vec![crate::pydict! {"type" => "task-started"}]);
    assert_eq!(multi.routing_key, "task.multi");
    assert_eq!(EventMessage::decode(&multi.to_envelope().to_bytes()).unwrap().events().len(), 1);
    assert!(EventMessage::single("w@h", crate::pydict! {"no" => "type"}).is_err());
}

#[test]
fn result_meta_field_order_matches_celery() {
    let mut m = ResultMeta::success("id-1", PyValue::Int(5), "2026-01-01T00:00:00+00:00".into());
    m.group_id = Some("g".into());
    m.parent_id = Some("p".into());
    m.extended = Some(ExtendedMeta {
        name: "t".into(),
        args: PyValue::List(vec![]),
        kwargs: PyValue::Dict(crate::json::PyDict::new()),
        worker: "w@h".into(),
        retries: PyValue::Int(0),
        queue: "q".into(),
    });
    assert_eq!(
        m.to_json().unwrap(),
        r#"{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "2026-01-01T00:00:00+00:00", "group_id": "g", "parent_id": "p", "name": "t", "args": [], "kwargs": {}, "worker": "w@h", "retries": 0, "queue": "q", "task_id": "id-1"}"#
    );
    assert_eq!(ResultMeta::decode(m.to_json().unwrap().as_bytes()).unwrap(), m);
    let missing =
        ResultMeta::decode(br#"{"status": "FAILURE", "result": {"exc_message": []}, "task_id": "x"}"#)
            .unwrap();
    assert!(matches!(missing.exception(), Some(Err(MessageError::MissingField { field: "exc_type", .. }))));
}

#[test]
fn envelope_refuses_non_objects_and_keeps_unknown_fields() {
    assert!(matches!(Envelope::decode(b"\"x\""), Err(MessageError::WrongType { .. })));
    assert!(matches!(Envelope::decode(b"{}"), Err(MessageError::MissingField { field: "body", .. })));
    assert!(matches!(Envelope::decode(br#"{"body": 1}"#), Err(MessageError::WrongType { .. })));
    assert!(matches!(
        Envelope::decode(br#"{"body": "", "headers": []}"#),
        Err(MessageError::WrongType { .. })
    ));
    let text = r#"{"body": "e30=", "x-extra": [1, 2], "properties": {"delivery_info": {"exchange": "", "routing_key": "q"}, "body_encoding": "base64", "weird": NaN}}"#;
    let env = Envelope::decode(text.as_bytes()).unwrap();
    assert_eq!(env.to_json(), text);
    assert_eq!(env.body_json().unwrap(), PyValue::Dict(crate::json::PyDict::new()));
    // Without body_encoding the body string is the payload.
    let plain = Envelope::decode(br#"{"body": "[[], {}, {}]", "properties": {"delivery_info": {"exchange": "", "routing_key": "q"}}, "headers": {"task": "t", "id": "i"}}"#).unwrap();
    assert!(TaskMessage::from_envelope(plain).is_ok());
}

#[test]
fn informational_headers_of_odd_types_are_kept_not_refused() {
    let v = crate::json::parse(
        br#"{"lang": "py", "task": "t", "id": "i", "shadow": 5, "eta": null, "retries": "3", "argsrepr": ["x"], "stamps": null, "x-custom": {"a": 1}}"#,
    )
    .unwrap();
    let h = TaskHeaders::from_dict(v.as_dict().unwrap()).unwrap();
    assert_eq!(h.retries, 0);
    assert_eq!(h.argsrepr, None);
    assert_eq!(h.extra.get("argsrepr"), Some(&PyValue::List(vec!["x".into()])));
    let out = h.to_dict().to_json();
    assert!(out.contains(r#""shadow": 5, "eta": null"#), "{out}");
    assert!(out.contains(r#""retries": "3", "timelimit""#), "{out}");
    assert!(out.contains(r#""argsrepr": ["x"], "kwargsrepr": null"#), "{out}");
    assert!(out.ends_with(r#""stamps": null, "x-custom": {"a": 1}}"#), "{out}");
    // The checks Python itself makes stay strict.
    let bad = crate::json::parse(br#"{"task": 1, "id": "i"}"#).unwrap();
    assert!(matches!(TaskHeaders::from_dict(bad.as_dict().unwrap()), Err(MessageError::WrongType { .. })));
}

#[test]
fn time_limits_write_whole_seconds_as_ints() {
    let t = TimeLimit::secs_f64(None, Some(3600.0));
    assert_eq!((t.hard.clone(), t.soft.clone()), (PyValue::Null, PyValue::Int(3600)));
    assert_eq!(TimeLimit::secs_f64(Some(2.5), None).hard, PyValue::Float(2.5));
    assert_eq!(TimeLimit::secs(Some(7200), None).hard_secs(), Some(7200.0));
}
