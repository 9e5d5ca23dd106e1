//! How both transports handle a batch of events: one order's events one after another, in the
//! order they came, different orders side by side, so that their durable writes share fsyncs.

use std::collections::HashMap;
use std::future::Future;

use futures_util::future::join_all;
use uuid::Uuid;

/// Runs `handle(i)` for every `i` below `count`: those of the same `order_of(i)` in turn, in
/// index order, different orders concurrently. Returns the results in index order.
pub(crate) async fn per_order<R, Fut>(
    count: usize,
    order_of: impl Fn(usize) -> Option<Uuid>,
    handle: impl Fn(usize) -> Fut,
) -> Vec<R>
where
    Fut: Future<Output = R>,
{
    let mut by_order: HashMap<Option<Uuid>, Vec<usize>> = HashMap::new();
    for index in 0..count {
        by_order.entry(order_of(index)).or_default().push(index);
    }
    let handle = &handle;
    let handled = join_all(by_order.into_values().map(|indices| async move {
        let mut handled = Vec::with_capacity(indices.len());
        for index in indices {
            handled.push((index, handle(index).await));
        }
        handled
    }))
    .await;
    let mut results: Vec<(usize, R)> = handled.into_iter().flatten().collect();
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test]
    async fn one_orders_items_run_in_turn_and_results_keep_their_places() {
        let orders = [1u128, 2, 1, 3, 1];
        let started = Mutex::new(Vec::new());
        let results = per_order(
            orders.len(),
            |index| Some(Uuid::from_u128(orders[index])),
            |index| {
                started.lock().expect("lock").push(index);
                async move {
                    tokio::task::yield_now().await;
                    index * 10
                }
            },
        )
        .await;
        assert_eq!(results, [0, 10, 20, 30, 40], "results in index order");
        let started = started.into_inner().expect("lock");
        let order_1: Vec<usize> = started
            .into_iter()
            .filter(|index| orders[*index] == 1)
            .collect();
        assert_eq!(order_1, [0, 2, 4], "one order's items in turn");
    }
}
