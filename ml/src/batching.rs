//! One inference thread that batches the forward passes of concurrent requests.
//!
//! A forward pass over one image barely uses a second core, while a batch of four or more runs its
//! convolutions in parallel and costs about 40% less per image (`brainscan bench --batch-sizes`). So
//! requests queue their preprocessed inputs here; the thread takes whatever has queued up (never
//! waiting for more: a lone request is not delayed), runs one forward pass per model, and hands each
//! request its rows. One thread also bounds the memory that activations take, however many requests
//! arrive at once, and a bounded queue turns overload into a clear "busy" answer instead of latency
//! growing without limit.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use crate::infer::{Classifier, Prediction};
use crate::{MlError, MlResult};

/// Called on the inference thread with the request's predictions, one per image it sent (each an
/// error of its own when that image is refused, e.g. as not a brain MRI slice).
pub type Reply = Box<dyn FnOnce(MlResult<Vec<MlResult<Prediction>>>) + Send>;

struct Job {
    classifier: Arc<Classifier>,
    /// Concatenated preprocessed images.
    inputs: Vec<f32>,
    images: usize,
    reply: Reply,
}

/// Why a request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue holds as many requests as it may: the server is overloaded.
    Full,
    /// The inference thread has stopped.
    Stopped,
}

/// The sending side; cheap to clone. The thread ends when every clone is dropped.
#[derive(Clone)]
pub struct BatchQueue {
    sender: SyncSender<Job>,
    max_batch_images: usize,
}

impl BatchQueue {
    /// Starts `workers` inference threads sharing one queue. `max_batch_images` caps one forward
    /// pass; `capacity` is how many requests may wait.
    pub fn start(
        workers: usize,
        max_batch_images: usize,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel(capacity.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let max_batch_images = max_batch_images.max(1);
        for worker in 0..workers.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("inference-{worker}"))
                .spawn(move || run(&receiver, max_batch_images))?;
        }
        Ok(Self {
            sender,
            max_batch_images,
        })
    }

    pub fn max_batch_images(&self) -> usize {
        self.max_batch_images
    }

    /// Queues `inputs` (whole preprocessed images for `classifier`) without blocking; `reply` is
    /// called once with one prediction per image, in order.
    pub fn submit(
        &self,
        classifier: Arc<Classifier>,
        inputs: Vec<f32>,
        reply: Reply,
    ) -> Result<(), SubmitError> {
        let size = classifier.manifest().preprocess.input_size;
        let images = inputs.len() / (size * size).max(1);
        let job = Job {
            classifier,
            inputs,
            images,
            reply,
        };
        self.sender.try_send(job).map_err(|error| match error {
            TrySendError::Full(_) => SubmitError::Full,
            TrySendError::Disconnected(_) => SubmitError::Stopped,
        })
    }
}

/// Takes the next batch: waits for one job, then adds whatever else is queued, up to the cap.
fn next_batch(receiver: &Mutex<Receiver<Job>>, max_batch_images: usize) -> Option<Vec<Job>> {
    // Held only while collecting: the forward pass runs with the lock released, so another worker
    // can collect the next batch meanwhile.
    let receiver = receiver
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let first = receiver.recv().ok()?;
    let mut images = first.images;
    let mut jobs = vec![first];
    while images < max_batch_images {
        match receiver.try_recv() {
            Ok(job) => {
                images += job.images;
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    Some(jobs)
}

fn run(receiver: &Mutex<Receiver<Job>>, max_batch_images: usize) {
    while let Some(mut jobs) = next_batch(receiver, max_batch_images) {
        // Requests that started before a model swap still get the model they asked for.
        while let Some(lead) = jobs.first().map(|job| job.classifier.clone()) {
            let (same, rest): (Vec<Job>, Vec<Job>) = jobs
                .into_iter()
                .partition(|job| Arc::ptr_eq(&job.classifier, &lead));
            jobs = rest;
            forward_and_reply(&lead, same);
        }
    }
}

fn forward_and_reply(classifier: &Classifier, jobs: Vec<Job>) {
    let counts: Vec<usize> = jobs.iter().map(|job| job.images).collect();
    let mut inputs = Vec::with_capacity(jobs.iter().map(|job| job.inputs.len()).sum());
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        inputs.extend_from_slice(&job.inputs);
        replies.push(job.reply);
    }
    // A panic in the backend must not take the thread, and with it every later request, down.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        classifier.predict_inputs(inputs)
    }))
    .unwrap_or_else(|_| Err(MlError::Training("the forward pass panicked".into())));
    match outcome {
        Ok(predictions) => {
            let mut predictions = predictions.into_iter();
            for (reply, count) in replies.into_iter().zip(counts) {
                reply(Ok(predictions.by_ref().take(count).collect()));
            }
        }
        Err(error) => {
            let message = error.to_string();
            for reply in replies {
                reply(Err(MlError::Training(message.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::Manifest;
    use crate::model::{Architecture, ModelConfig};
    use crate::preprocess::PreprocessConfig;
    use crate::Backend;

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
            if queue.submit(model.clone(), inputs(1, salt), reply) == Err(SubmitError::Full) {
                refused = true;
                break;
            }
        }
        assert!(refused, "a queue of capacity 1 never reported Full");
    }
}
