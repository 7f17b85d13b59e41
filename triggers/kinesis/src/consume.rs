//! One KinesisTrigger: one shard of one stream delivered to one function. Records are read in
//! batches from the checkpoint on; a batch is delivered in order per partition key, up to
//! `max_in_flight` at once, and the checkpoint moves to its last record only when all of it is
//! done (delivered, or put into the dead-letter stream). A dispatcher stopped mid-batch
//! delivers the batch again.

use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{Record, ShardIteratorType};
use bytes::Bytes;
use fnhost_delivery::deliver::{Final, Pair};
use fnhost_delivery::event::Message;
use fnhost_delivery::lanes::{Lanes, Order};
use tokio::task::JoinSet;

use crate::KinesisError;
use crate::checkpoint::Checkpoints;

/// Records asked for per GetRecords.
const BATCH: i32 = 500;
/// The wait after an empty batch (Kinesis allows 5 GetRecords a second per shard).
const IDLE: Duration = Duration::from_millis(250);

/// One Kinesis pair, as the dispatcher configured it.
#[derive(Clone)]
pub struct KinesisPair {
    /// The client (region, credentials, endpoint).
    pub client: Client,
    /// The stream.
    pub stream: String,
    /// The shard id.
    pub shard: String,
    /// Where its checkpoint is kept: `<namespace>/<trigger>/<shard>`.
    pub checkpoint: String,
    /// The dead-letter stream, if any.
    pub dead_letter: Option<String>,
    /// Records in flight at once.
    pub max_in_flight: usize,
    /// In order per partition key, or not at all.
    pub order: Order,
    /// Where and how to deliver.
    pub pair: Pair,
}

/// A shard iterator at the checkpoint (after its sequence number), or at the oldest record the
/// stream keeps when there is none yet.
pub async fn prepare(
    pair: &KinesisPair,
    checkpoints: &Checkpoints,
) -> Result<String, KinesisError> {
    let after = checkpoints.load(&pair.checkpoint).await?;
    iterator(pair, after.as_deref()).await
}

async fn iterator(pair: &KinesisPair, after: Option<&str>) -> Result<String, KinesisError> {
    let request = pair
        .client
        .get_shard_iterator()
        .stream_name(&pair.stream)
        .shard_id(&pair.shard);
    let request = match after {
        Some(sequence) => request
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(sequence),
        None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
    };
    let answer = match request.send().await {
        Ok(answer) => answer,
        // The checkpoint's record is gone (trimmed by retention, or a stream that lost data):
        // start at the oldest record kept, redelivering rather than skipping.
        Err(e)
            if after.is_some()
                && e.as_service_error()
                    .is_some_and(|s| s.is_invalid_argument_exception()) =>
        {
            tracing::warn!(pair = %pair.pair.name, checkpoint = after,
                "the checkpoint is not in the shard any more; reading from its oldest record");
            return Box::pin(iterator(pair, None)).await;
        }
        Err(e) => return Err(KinesisError::call("GetShardIterator", e)),
    };
    answer
        .shard_iterator()
        .map(str::to_owned)
        .ok_or_else(|| KinesisError::ShardClosed(pair.shard.clone()))
}

/// Delivers the shard's records until an error; dropping the future stops the pair.
pub async fn serve(
    pair: KinesisPair,
    checkpoints: Checkpoints,
    mut shard_iterator: String,
) -> Result<(), KinesisError> {
    // Shared by every delivery task: one reference count per record, not a copy of the pair.
    let pair = std::sync::Arc::new(pair);
    let mut last = checkpoints.load(&pair.checkpoint).await?;
    loop {
        let sent = pair
            .client
            .get_records()
            .shard_iterator(&shard_iterator)
            .limit(BATCH)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_expired_iterator_exception()) =>
            {
                shard_iterator = iterator(&pair, last.as_deref()).await?;
                continue;
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_provisioned_throughput_exceeded_exception()) =>
            {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => return Err(KinesisError::call("GetRecords", e)),
        };
        if let Some(behind) = answer.millis_behind_latest() {
            pair.pair.metrics.set_lag(behind);
        }
        let records = answer.records();
        if let Some(newest) = records.last() {
            deliver_batch(&pair, records).await;
            checkpoints
                .save(&pair.checkpoint, newest.sequence_number())
                .await?;
            last = Some(newest.sequence_number().to_owned());
        } else {
            tokio::time::sleep(IDLE).await;
        }
        shard_iterator = answer
            .next_shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| KinesisError::ShardClosed(pair.shard.clone()))?;
    }
}

/// Delivers every record of a batch, in order per partition key.
async fn deliver_batch(pair: &std::sync::Arc<KinesisPair>, records: &[Record]) {
    let mut lanes: Lanes<String, usize> = Lanes::new(pair.max_in_flight);
    let mut running: JoinSet<String> = JoinSet::new();
    let spawn = |running: &mut JoinSet<String>, key: String, index: usize| {
        running.spawn(deliver_one(
            pair.clone(),
            key,
            to_event(&records[index]),
            records[index].data().clone(),
        ));
    };
    for (index, record) in records.iter().enumerate() {
        let key = match pair.order {
            Order::PerKey => record.partition_key().unwrap_or_default().to_owned(),
            Order::None => record.sequence_number().to_owned(),
        };
        if let Some(index) = lanes.push(key.clone(), index) {
            spawn(&mut running, key, index);
        }
    }
    while let Some(done) = running.join_next().await {
        let Ok(key) = done else { continue };
        for (key, index) in lanes.finish(&key) {
            spawn(&mut running, key, index);
        }
    }
}

/// Delivers one record; a dead letter is put into the dead-letter stream (with the same
/// partition key) before it counts as done. Returns its partition key.
async fn deliver_one(
    pair: std::sync::Arc<KinesisPair>,
    key: String,
    event: Message,
    data: Blob,
) -> String {
    if let Final::DeadLetter { failed, last } = pair.pair.deliver(&event).await
        && let Some(stream) = pair.dead_letter.as_deref()
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let put = pair
                .client
                .put_record()
                .stream_name(stream)
                .partition_key(if key.is_empty() { "fnhost" } else { &key })
                .data(data.clone())
                .send()
                .await;
            match put {
                Ok(_) => break,
                Err(e) => {
                    let e = KinesisError::call("PutRecord", e);
                    tracing::warn!(stream, "putting a dead letter failed ({e}); trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        tracing::warn!(pair = %pair.pair.name, id = %event.id, dead_letter = stream,
            "{last}: after {failed} failed attempts, put into the dead-letter stream ({tries} tries)");
        pair.pair.metrics.dead_lettered();
    }
    key
}

/// The delivery's view of a record: `event-id` its sequence number, the time Kinesis received
/// it.
fn to_event(record: &Record) -> Message {
    let time = record
        .approximate_arrival_timestamp()
        .and_then(|t| jiff::Timestamp::from_nanosecond(t.as_nanos()).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    Message {
        id: record.sequence_number().to_owned(),
        body: Bytes::copy_from_slice(record.data().as_ref()),
        content_type: None,
        time,
        extra_headers: Vec::new(),
    }
}
