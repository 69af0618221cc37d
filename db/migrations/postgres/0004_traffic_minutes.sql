-- What each server process saw per minute, for the Monitor's rates and latency over 1 hour to
-- 7 days: requests and their 4xx/5xx answers, images classified, refused as not an MRI and
-- flagged for review, and the time per image as counts per latency bucket (a JSON array; the
-- buckets' bounds are in app::ssr::traffic). One row per minute and process: a process adds to its
-- own row only, so replicas never write the same row.
CREATE TABLE traffic_minutes (
    minute          TEXT    NOT NULL,
    instance        TEXT    NOT NULL,
    requests        BIGINT  NOT NULL DEFAULT 0,
    client_errors   BIGINT  NOT NULL DEFAULT 0,
    server_errors   BIGINT  NOT NULL DEFAULT 0,
    predictions     BIGINT  NOT NULL DEFAULT 0,
    refused         BIGINT  NOT NULL DEFAULT 0,
    flagged         BIGINT  NOT NULL DEFAULT 0,
    latency_counts  TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (minute, instance)
);
