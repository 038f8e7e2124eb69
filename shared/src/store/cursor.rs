//! Opaque pagination cursors: a query's `LastEvaluatedKey`, base64url-encoded JSON.
//! A cursor is only accepted for the partition it came from, so it cannot be replayed
//! against another organization's data or another list.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::StoreError;
use super::{Item, s, schema};

/// Longest cursor accepted, in bytes; real ones are far shorter.
const MAX_CURSOR_LEN: usize = 1024;

/// Encodes a `LastEvaluatedKey` (string key attributes only).
pub fn encode(last_key: &Item) -> String {
    let map: BTreeMap<&str, &str> =
        last_key.iter().filter_map(|(k, v)| v.as_s().ok().map(|v| (k.as_str(), v.as_str()))).collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).expect("a map of strings serializes"))
}

/// Decodes a cursor for a query whose partition attribute `partition_attr` must equal
/// `partition`. Anything else is `400 invalid_request` naming `cursor`.
pub fn decode(raw: &str, partition_attr: &str, partition: &str) -> Result<Item, StoreError> {
    let bad = || StoreError::invalid_field("cursor", "is not a cursor this list returned");
    if raw.len() > MAX_CURSOR_LEN {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let known = [schema::PK, schema::SK, schema::GSI1PK, schema::GSI1SK, schema::GSI2PK, schema::GSI2SK];
    if map.keys().any(|k| !known.contains(&k.as_str()))
        || map.get(partition_attr).map(String::as_str) != Some(partition)
    {
        return Err(bad());
    }
    Ok(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_for_its_own_partition_only() {
        let key: Item = [("pk".to_owned(), s("ORG#a")), ("sk".to_owned(), s("PAGE#1"))].into();
        let c = encode(&key);
        assert_eq!(decode(&c, "pk", "ORG#a").unwrap(), key);
        assert!(decode(&c, "pk", "ORG#b").is_err());
        assert!(decode("not-base64!", "pk", "ORG#a").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode(br#"{"pk":"ORG#a","x":"1"}"#), "pk", "ORG#a").is_err());
    }
}
