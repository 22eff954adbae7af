//! `CharMap::translate_path` against the reference's `char_map_util.translate_path`, run by the
//! venv Python on the same maps and inputs.

mod common;

use common::{Lcg, probe};
use irods_ingest::charmap::{CharMap, CharMapError, Rule};
use serde_json::json;

fn rust_map(rules: &serde_json::Value) -> Result<CharMap, CharMapError> {
    let rules = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| {
            let value = rule["value"].as_str().unwrap_or_default().to_owned();
            match rule["kind"].as_str().unwrap() {
                "char" => Rule::char(rule["key"].as_str().unwrap().chars().next().unwrap(), value),
                "chars" => Rule::chars(rule["keys"].as_str().unwrap().chars(), value),
                "regex" => Rule::regex(rule["pattern"].as_str().unwrap(), &value).unwrap(),
                "pred_ord_gt" => {
                    let n = rule["n"].as_u64().unwrap() as u32;
                    Rule::predicate(move |c| Ok(c as u32 > n), value)
                }
                "none_value" => {
                    Rule::Replace { chars: rule["key"].as_str().unwrap().chars().collect(), with: None }
                }
                other => panic!("unknown rule kind {other}"),
            }
        })
        .collect();
    CharMap::new(rules)
}

fn inputs(seed: u64) -> Vec<String> {
    let mut fixed: Vec<String> = [
        "",
        "/",
        "//",
        "/tempZone/home/my-coll/a b/x.y",
        "we!rd~name.txt",
        "/tempZone/home/rods/we!rd~name.txt",
        "relative/path/",
        "a//b///c/",
        "#041!2~93#041!2\u{ff}9\u{101010}Z",
        "ÄÖÜ äöü ß",
        "漢字/かな/😀.txt",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x",
        "\u{100}",
        "---~~~___",
        "0123456789",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let alphabet: Vec<char> =
        "abcAZ09!~-_. #@$%^&()[]{}'`/éß漢😀\u{7f}\u{80}\u{ff}\u{100}x".chars().collect();
    let mut rng = Lcg::new(seed);
    for _ in 0..150 {
        let len = rng.below(40);
        fixed.push((0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect());
    }
    fixed
}

#[test]
fn translate_path_matches_the_reference_on_many_maps_and_inputs() {
    let maps = vec![
        json!([{"kind": "regex", "pattern": "[^a-zA-Z0-9]", "value": "_"}]),
        json!([{"kind": "chars", "keys": "!~01", "value": "_"},
               {"kind": "regex", "pattern": "[\\u0100-\\U00101fff]", "value": "~"}]),
        json!([{"kind": "char", "key": " ", "value": "_"}, {"kind": "char", "key": "-", "value": "~"}]),
        json!([{"kind": "pred_ord_gt", "n": 127, "value": "?"}]),
        json!([{"kind": "char", "key": "a", "value": ""}]),
        json!([{"kind": "char", "key": "x", "value": "yy"}]),
        json!([{"kind": "regex", "pattern": "([aeiou])", "value": "<\\1>"}]),
        json!([{"kind": "chars", "keys": "-~_", "value": "."}]),
        json!([{"kind": "none_value", "key": "a"}, {"kind": "char", "key": "b", "value": "c"}]),
        json!([{"kind": "regex", "pattern": "[0-9]", "value": "#"}]),
        // No radix character left: the reference raises ZeroDivisionError, we return an error.
        // (A map leaving exactly one makes the reference loop forever; see the unit test.)
        json!([{"kind": "regex", "pattern": "[a-zA-Z0-9]", "value": "."}]),
        json!([{"kind": "regex", "pattern": "(?P<v>[.!])", "value": "\\g<v>\\g<v>"}]),
    ];
    let cases: Vec<serde_json::Value> = maps
        .iter()
        .enumerate()
        .map(|(i, rules)| json!({"rules": rules, "inputs": inputs(i as u64 + 1)}))
        .collect();
    let reference = probe("charmap", &json!({"cases": cases}));
    let mut compared = 0;
    for (case, expected) in cases.iter().zip(reference.as_array().unwrap()) {
        let map = rust_map(&case["rules"]).expect("map builds");
        for (input, want) in case["inputs"].as_array().unwrap().iter().zip(expected.as_array().unwrap()) {
            let input = input.as_str().unwrap();
            let ours = map.translate_path(input);
            match (want.get("ok").and_then(|v| v.as_str()), ours) {
                (Some(want), Ok(got)) => assert_eq!(got, want, "map {} input {input:?}", case["rules"]),
                (None, Err(_)) => {}
                (want, got) => panic!(
                    "map {} input {input:?}: reference {want:?} / {:?}, ours {got:?}",
                    case["rules"], want
                ),
            }
            compared += 1;
        }
    }
    assert!(compared > 1500, "compared {compared} translations");
}
