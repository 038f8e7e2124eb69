//! One page of a list and the cursor to the next: what every list of the API returns,
//! read the same way for every entity.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use serde::de::DeserializeOwned;

use super::error::StoreError;
use super::{Item, Store, cursor, from_item};

/// One page of a list and the cursor to the next.
#[derive(Debug)]
pub struct Listing<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor for the next page, when there is one.
    pub next_cursor: Option<String>,
}

impl Store {
    /// Up to `limit` items of `query` from `start` (a decoded cursor), each read as a row
    /// `R` and shown as `view` makes it, with the cursor to the next page.
    pub(crate) async fn list<R: DeserializeOwned, T>(
        &self,
        query: QueryFluentBuilder,
        limit: u32,
        start: Option<Item>,
        mut view: impl FnMut(R) -> T,
    ) -> Result<Listing<T>, StoreError> {
        let (items, last) = self.query_up_to(query, limit, start).await?;
        let items = items.into_iter().map(|i| from_item::<R>(i).map(&mut view)).collect::<Result<_, _>>()?;
        Ok(Listing { items, next_cursor: last.as_ref().map(cursor::encode) })
    }
}
