//! The success envelope, `{"data": …}`, as bytes: what a create answers and what its
//! idempotency record keeps to replay, so both are the same bytes.

use serde::Serialize;

/// The bytes of `{"data": …}`.
pub fn data_body<T: Serialize>(value: &T) -> Vec<u8> {
    #[derive(Serialize)]
    struct Data<'a, T> {
        data: &'a T,
    }
    serde_json::to_vec(&Data { data: value }).expect("API values serialize")
}
