//! Inference threads that batch the forward passes of concurrent requests, shared fairly between
//! clients.
//!
//! A forward pass over one image barely uses a second core, while a batch of four or more runs its
//! convolutions in parallel and costs about 40% less per image (`brainscan bench --batch-sizes`). So
//! requests queue their preprocessed inputs here; a thread takes whatever has queued up (never
//! waiting for more: a lone request is not delayed), runs one forward pass per model, and hands each
//! request its rows. One thread also bounds the memory that activations take, however many requests
//! arrive at once, and a bounded queue turns overload into a clear "busy" answer instead of latency
//! growing without limit.
//!
//! Fairness: each client (the address the HTTP layer resolved) has its own queue, and a batch is
//! filled by taking turns between clients, a request's images a few at a time. A client sending
//! 64-image batches in a loop therefore delays another client's single slice by at most about one
//! forward pass, not by everything it queued, and may hold at most a quarter of the queue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::infer::{Classifier, Prediction};
use crate::{MlError, MlResult};

/// Called on the inference thread with the request's predictions, one per image it sent (each an
/// error of its own when that image is refused, e.g. as not a brain MRI slice).
pub type Reply = Box<dyn FnOnce(MlResult<Vec<MlResult<Prediction>>>) + Send>;

/// One request: its images are handed out in chunks; the reply goes once every chunk came back.
struct Job {
    classifier: Arc<Classifier>,
    /// Concatenated preprocessed images.
    inputs: Vec<f32>,
    images: usize,
    /// Images handed to a forward pass so far.
    dispatched: usize,
    progress: Arc<Mutex<Progress>>,
}

struct Progress {
    results: Vec<Option<MlResult<Prediction>>>,
    remaining: usize,
    failure: Option<String>,
    reply: Option<Reply>,
}

impl Progress {
    /// Stores the rows of one chunk; replies when they were the last.
    fn complete(
        &mut self,
        first: usize,
        outcome: Result<Vec<MlResult<Prediction>>, String>,
        count: usize,
    ) {
        match outcome {
            Ok(rows) => {
                for (slot, row) in self.results[first..first + count].iter_mut().zip(rows) {
                    *slot = Some(row);
                }
            }
            Err(message) => self.failure = Some(message),
        }
        self.remaining = self.remaining.saturating_sub(count);
        if self.remaining > 0 {
            return;
        }
        let Some(reply) = self.reply.take() else {
            return;
        };
        match self.failure.take() {
            Some(message) => reply(Err(MlError::Training(message))),
            None => reply(Ok(std::mem::take(&mut self.results)
                .into_iter()
                .map(|row| {
                    row.unwrap_or_else(|| Err(MlError::Training("a row went missing".into())))
                })
                .collect())),
        }
    }
}

/// A slice of one job, run in one forward pass.
struct Chunk {
    classifier: Arc<Classifier>,
    inputs: Vec<f32>,
    first: usize,
    images: usize,
    progress: Arc<Mutex<Progress>>,
}

/// Why a request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue holds as many requests as it may (overall, or from this client).
    Full,
    /// The inference threads have stopped.
    Stopped,
}

#[derive(Default)]
struct Queues {
    by_client: HashMap<String, VecDeque<Job>>,
    /// Clients with queued work, in the order they take their next turn.
    turns: VecDeque<String>,
    queued: usize,
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    work: Condvar,
    capacity: usize,
    per_client: usize,
    max_batch_images: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Closes the queue when the last [`BatchQueue`] clone is dropped, so the threads end.
struct Closer(Arc<Shared>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.work.notify_all();
    }
}

/// The sending side; cheap to clone. The threads end when every clone is dropped.
#[derive(Clone)]
pub struct BatchQueue {
    shared: Arc<Shared>,
    _closer: Arc<Closer>,
}

impl BatchQueue {
    /// Starts `workers` inference threads sharing one queue. `max_batch_images` caps one forward
    /// pass; `capacity` is how many requests may wait, a quarter of them (at least one) from one
    /// client.
    pub fn start(
        workers: usize,
        max_batch_images: usize,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let capacity = capacity.max(1);
        let shared = Arc::new(Shared {
            queues: Mutex::default(),
            work: Condvar::new(),
            capacity,
            per_client: (capacity / 4).max(1),
            max_batch_images: max_batch_images.max(1),
        });
        for worker in 0..workers.max(1) {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("inference-{worker}"))
                .spawn(move || run(&shared))?;
        }
        Ok(Self {
            _closer: Arc::new(Closer(shared.clone())),
            shared,
        })
    }

    pub fn max_batch_images(&self) -> usize {
        self.shared.max_batch_images
    }

    /// Queues `inputs` (whole preprocessed images for `classifier`) from `client` without
    /// blocking; `reply` is called once with one prediction per image, in order.
    pub fn submit(
        &self,
        client: &str,
        classifier: Arc<Classifier>,
        inputs: Vec<f32>,
        reply: Reply,
    ) -> Result<(), SubmitError> {
        let size = classifier.manifest().preprocess.input_size;
        let images = inputs.len() / (size * size).max(1);
        if images == 0 {
            reply(Ok(Vec::new()));
            return Ok(());
        }
        let mut queues = self.shared.lock();
        if queues.closed {
            return Err(SubmitError::Stopped);
        }
        let waiting = queues.by_client.get(client).map_or(0, VecDeque::len);
        if queues.queued >= self.shared.capacity || waiting >= self.shared.per_client {
            return Err(SubmitError::Full);
        }
        let job = Job {
            classifier,
            inputs,
            images,
            dispatched: 0,
            progress: Arc::new(Mutex::new(Progress {
                results: (0..images).map(|_| None).collect(),
                remaining: images,
                failure: None,
                reply: Some(reply),
            })),
        };
        if waiting == 0 {
            queues.turns.push_back(client.to_owned());
        }
        queues
            .by_client
            .entry(client.to_owned())
            .or_default()
            .push_back(job);
        queues.queued += 1;
        drop(queues);
        self.shared.work.notify_one();
        Ok(())
    }
}

/// Takes the next batch: waits for work, then fills the batch by turns, one chunk per client per
/// turn, up to the cap. `None` once the queue is closed and empty.
fn next_batch(shared: &Shared) -> Option<Vec<Chunk>> {
    let mut queues = shared.lock();
    while queues.turns.is_empty() {
        if queues.closed {
            return None;
        }
        queues = shared
            .work
            .wait(queues)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    let mut chunks = Vec::new();
    let mut room = shared.max_batch_images;
    while room > 0 {
        let Some(client) = queues.turns.pop_front() else {
            break;
        };
        let Some(jobs) = queues.by_client.get_mut(&client) else {
            continue;
        };
        let Some(job) = jobs.front_mut() else {
            queues.by_client.remove(&client);
            continue;
        };
        let take = room.min(job.images - job.dispatched);
        let per_image = job.inputs.len() / job.images;
        let first = job.dispatched;
        chunks.push(Chunk {
            classifier: job.classifier.clone(),
            inputs: job.inputs[first * per_image..(first + take) * per_image].to_vec(),
            first,
            images: take,
            progress: job.progress.clone(),
        });
        job.dispatched += take;
        room -= take;
        if job.dispatched == job.images {
            jobs.pop_front();
            let more = !jobs.is_empty();
            queues.queued -= 1;
            if more {
                queues.turns.push_back(client);
            } else {
                queues.by_client.remove(&client);
            }
        } else {
            queues.turns.push_back(client);
        }
    }
    Some(chunks)
}

fn run(shared: &Shared) {
    while let Some(mut chunks) = next_batch(shared) {
        // Requests that started before a model swap still get the model they asked for.
        while let Some(lead) = chunks.first().map(|chunk| chunk.classifier.clone()) {
            let (same, rest): (Vec<Chunk>, Vec<Chunk>) = chunks
                .into_iter()
                .partition(|chunk| Arc::ptr_eq(&chunk.classifier, &lead));
            chunks = rest;
            forward_and_reply(&lead, same);
        }
    }
}

fn forward_and_reply(classifier: &Classifier, chunks: Vec<Chunk>) {
    let mut inputs = Vec::with_capacity(chunks.iter().map(|chunk| chunk.inputs.len()).sum());
    for chunk in &chunks {
        inputs.extend_from_slice(&chunk.inputs);
    }
    // A panic in the backend must not take the thread, and with it every later request, down.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        classifier.predict_inputs(inputs)
    }))
    .unwrap_or_else(|_| Err(MlError::Training("the forward pass panicked".into())));
    match outcome {
        Ok(predictions) => {
            let mut predictions = predictions.into_iter();
            for chunk in chunks {
                let rows = predictions.by_ref().take(chunk.images).collect();
                lock(&chunk.progress).complete(chunk.first, Ok(rows), chunk.images);
            }
        }
        Err(error) => {
            let message = error.to_string();
            for chunk in chunks {
                lock(&chunk.progress).complete(chunk.first, Err(message.clone()), chunk.images);
            }
        }
    }
}

fn lock(progress: &Mutex<Progress>) -> MutexGuard<'_, Progress> {
    progress
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::Manifest;
    use crate::model::{Architecture, ModelConfig};
    use crate::preprocess::PreprocessConfig;
    use crate::Backend;
    use std::sync::mpsc;

    const SIZE: usize = 24;

    fn classifier(seed: u64) -> Arc<Classifier> {
        let device = Backend::Cpu.device().unwrap();
        device.seed(seed);
        let config = ModelConfig::new().with_widths([4, 8, 8, 8]);
        let model = Architecture::Cnn.init(&config, &device);
        let manifest = Manifest::new(
            "t",
            PreprocessConfig::new(SIZE),
            Architecture::Cnn,
            config,
            0,
        );
        Arc::new(Classifier::from_parts(model, manifest, device))
    }

    /// `images` distinct inputs, different for each `salt`.
    fn inputs(images: usize, salt: usize) -> Vec<f32> {
        (0..images * SIZE * SIZE)
            .map(|i| ((i * 7 + salt * 131) % 97) as f32 / 97.0 - 0.5)
            .collect()
    }

    fn submit_and_wait(
        queue: &BatchQueue,
        classifier: &Arc<Classifier>,
        input: Vec<f32>,
    ) -> mpsc::Receiver<MlResult<Vec<MlResult<Prediction>>>> {
        let (sender, receiver) = mpsc::channel();
        queue
            .submit(
                "client",
                classifier.clone(),
                input,
                Box::new(move |result| {
                    let _ = sender.send(result);
                }),
            )
            .unwrap();
        receiver
    }

    #[test]
    fn every_request_gets_its_own_rows_whatever_was_batched_with_it() {
        let (first, second) = (classifier(1), classifier(2));
        let queue = BatchQueue::start(2, 8, 64).unwrap();
        // Many requests at once, of different sizes and for two models, so batches mix them.
        let mut pending = Vec::new();
        for salt in 0..24 {
            let model = if salt % 3 == 0 { &second } else { &first };
            let input = inputs(1 + salt % 3, salt);
            let expected = model.predict_inputs(input.clone()).unwrap();
            pending.push((submit_and_wait(&queue, model, input), expected));
        }
        for (receiver, expected) in pending {
            let actual = receiver.recv().unwrap().unwrap();
            assert_eq!(actual.len(), expected.len());
            for (a, e) in actual.iter().zip(&expected) {
                let (a, e) = (a.as_ref().unwrap(), e.as_ref().unwrap());
                for ((_, pa), (_, pe)) in a.probabilities.iter().zip(&e.probabilities) {
                    assert!((pa - pe).abs() < 1e-4, "{pa} vs {pe}");
                }
            }
        }
    }

    #[test]
    fn a_full_queue_refuses_instead_of_blocking() {
        let model = classifier(3);
        let queue = BatchQueue::start(1, 1, 1).unwrap();
        // The first job keeps the thread busy on a large batch while the queue fills behind it.
        let _busy = submit_and_wait(&queue, &model, inputs(64, 0));
        let mut refused = false;
        for salt in 0..200 {
            let (sender, _receiver) = mpsc::channel();
            let reply: Reply = Box::new(move |result| {
                let _ = sender.send(result);
            });
            if queue.submit("client", model.clone(), inputs(1, salt), reply)
                == Err(SubmitError::Full)
            {
                refused = true;
                break;
            }
        }
        assert!(refused, "a queue of capacity 1 never reported Full");
    }

    #[test]
    fn a_client_flooding_large_batches_does_not_hold_up_another_clients_slice() {
        let model = classifier(4);
        let queue = BatchQueue::start(1, 4, 64).unwrap();
        let (done, finished) = mpsc::channel();
        let submit = |client: &str, images: usize, tag: &'static str| {
            let done = done.clone();
            let reply: Reply = Box::new(move |result| {
                assert_eq!(result.unwrap().len(), images);
                let _ = done.send(tag);
            });
            queue
                .submit(client, model.clone(), inputs(images, images), reply)
                .unwrap();
        };
        for _ in 0..3 {
            submit("flood", 32, "flood");
        }
        submit("other", 1, "other");
        let order: Vec<&str> = (0..4).map(|_| finished.recv().unwrap()).collect();
        let other_at = order.iter().position(|tag| *tag == "other").unwrap();
        assert!(
            other_at <= 1,
            "the lone slice waited for the flood: {order:?}"
        );
    }

    #[test]
    fn one_client_may_hold_only_a_quarter_of_the_queue() {
        let model = classifier(5);
        let queue = BatchQueue::start(1, 1, 8).unwrap();
        let reply = || -> Reply { Box::new(|_| {}) };
        // The thread is kept busy by a large job while the queue fills behind it.
        queue
            .submit("busy", model.clone(), inputs(64, 0), reply())
            .unwrap();
        let mut accepted = 0;
        while queue
            .submit("flood", model.clone(), inputs(16, 1), reply())
            .is_ok()
        {
            accepted += 1;
            assert!(accepted <= 2, "a client took more than its share");
        }
        assert_eq!(
            queue.submit("another", model.clone(), inputs(1, 2), reply()),
            Ok(())
        );
    }
}
