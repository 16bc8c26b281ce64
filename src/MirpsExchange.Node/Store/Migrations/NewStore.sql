CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    "MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
    "ProductVersion" TEXT NOT NULL
);

CREATE TABLE "observations" (
    "origin" TEXT NOT NULL,
    "origin_sequence" INTEGER NOT NULL,
    "indicator_code" TEXT NOT NULL,
    "country" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "sex" TEXT NOT NULL,
    "age" TEXT NOT NULL,
    "country_of_origin" TEXT NOT NULL,
    "period_start" TEXT NOT NULL,
    "period_end" TEXT NOT NULL,
    "revision" INTEGER NOT NULL,
    "value" REAL NULL,
    "status" INTEGER NOT NULL,
    "note" TEXT NOT NULL,
    "deleted" INTEGER NOT NULL,
    "recorded_time" INTEGER NOT NULL,
    "superseded_time" INTEGER NULL,
    CONSTRAINT "PK_observations" PRIMARY KEY ("origin", "origin_sequence")
);

CREATE TABLE "requests" (
    "request_id" TEXT NOT NULL CONSTRAINT "PK_requests" PRIMARY KEY,
    "operation" TEXT NOT NULL,
    "request_digest" BLOB NOT NULL,
    "response" BLOB NOT NULL,
    "recorded_time" INTEGER NOT NULL
);

CREATE UNIQUE INDEX "ux_observations_key_revision" ON "observations" ("indicator_code", "country", "period", "sex", "age", "country_of_origin", "revision");

CREATE INDEX "IX_requests_recorded_time" ON "requests" ("recorded_time");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261126235416_InitialStore', '10.0.15');

ALTER TABLE "observations" ADD "readers" TEXT NOT NULL DEFAULT '';

ALTER TABLE "observations" ADD "release_time" INTEGER NULL;

ALTER TABLE "observations" ADD "small_count_threshold" INTEGER NOT NULL DEFAULT 0;

ALTER TABLE "observations" ADD "value_withheld" INTEGER NOT NULL DEFAULT 0;

CREATE TABLE "withheld_changes" (
    "origin" TEXT NOT NULL,
    "origin_sequence" INTEGER NOT NULL,
    "reason" INTEGER NOT NULL,
    "recorded_time" INTEGER NOT NULL,
    "readers" TEXT NOT NULL,
    "release_time" INTEGER NULL,
    "small_count_threshold" INTEGER NOT NULL,
    CONSTRAINT "PK_withheld_changes" PRIMARY KEY ("origin", "origin_sequence")
);

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261127032428_SharingPolicy', '10.0.15');

ALTER TABLE "withheld_changes" ADD "change_hash" BLOB NULL;

ALTER TABLE "withheld_changes" ADD "content_digest" BLOB NULL;

ALTER TABLE "withheld_changes" ADD "received_time" INTEGER NOT NULL DEFAULT 0;

ALTER TABLE "observations" ADD "change_hash" BLOB NULL;

ALTER TABLE "observations" ADD "received_time" INTEGER NOT NULL DEFAULT 0;

ALTER TABLE "observations" ADD "salt" BLOB NULL;

ALTER TABLE "observations" ADD "value_digest" BLOB NULL;

UPDATE observations SET received_time = recorded_time;

UPDATE withheld_changes SET received_time = recorded_time;

CREATE TABLE "log_heads" (
    "origin" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "kind" INTEGER NOT NULL,
    "hash" BLOB NOT NULL,
    "key_id" TEXT NOT NULL,
    "signature" BLOB NOT NULL,
    "signed_time" INTEGER NOT NULL,
    "next_public_key" BLOB NULL,
    "received_time" INTEGER NOT NULL,
    CONSTRAINT "PK_log_heads" PRIMARY KEY ("origin", "sequence", "kind")
);

CREATE INDEX "IX_log_heads_origin_received_time" ON "log_heads" ("origin", "received_time");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261206170936_SignedChangeLog', '10.0.15');

DROP INDEX "ux_observations_key_revision";

ALTER TABLE "observations" ADD "application_type" TEXT NOT NULL DEFAULT '';

ALTER TABLE "observations" ADD "confidentiality" INTEGER NOT NULL DEFAULT 0;

ALTER TABLE "observations" ADD "count_basis" TEXT NOT NULL DEFAULT '';

ALTER TABLE "observations" ADD "country_of_destination" TEXT NOT NULL DEFAULT '';

ALTER TABLE "observations" ADD "decision_level" TEXT NOT NULL DEFAULT '';

ALTER TABLE "observations" ADD "lower_bound" INTEGER NOT NULL DEFAULT 0;

ALTER TABLE "observations" ADD "procedure_type" TEXT NOT NULL DEFAULT '';

ALTER TABLE "observations" ADD "synthetic" INTEGER NOT NULL DEFAULT 0;

CREATE UNIQUE INDEX "ux_observations_key_revision" ON "observations" ("indicator_code", "country", "period", "sex", "age", "country_of_origin", "application_type", "decision_level", "procedure_type", "count_basis", "country_of_destination", "revision");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261206193038_CatalogueTwoDimensions', '10.0.15');

CREATE TABLE "catalogue_versions" (
    "holder" TEXT NOT NULL,
    "seen_time" INTEGER NOT NULL,
    "version" TEXT NOT NULL,
    CONSTRAINT "PK_catalogue_versions" PRIMARY KEY ("holder", "seen_time")
);

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261206215743_CatalogueVersions', '10.0.15');

CREATE TABLE "acceptances" (
    "id" INTEGER NOT NULL CONSTRAINT "PK_acceptances" PRIMARY KEY AUTOINCREMENT,
    "country" TEXT NOT NULL,
    "group_id" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "entry_sequence" INTEGER NOT NULL,
    "accepted" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "recorded_time" INTEGER NOT NULL
);

CREATE TABLE "lifecycle_entries" (
    "origin" TEXT NOT NULL,
    "entry_sequence" INTEGER NOT NULL,
    "previous_hash" BLOB NULL,
    "group_id" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "action" INTEGER NOT NULL,
    "log_sequence" INTEGER NOT NULL,
    "log_hash" BLOB NULL,
    "reason" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "recorded_time" INTEGER NOT NULL,
    "key_id" TEXT NOT NULL,
    "signature" BLOB NOT NULL,
    "entry_hash" BLOB NOT NULL,
    "received_time" INTEGER NOT NULL,
    CONSTRAINT "PK_lifecycle_entries" PRIMARY KEY ("origin", "entry_sequence")
);

CREATE INDEX "IX_acceptances_country_group_id_period_id" ON "acceptances" ("country", "group_id", "period", "id");

CREATE INDEX "IX_lifecycle_entries_origin_group_id_period_entry_sequence" ON "lifecycle_entries" ("origin", "group_id", "period", "entry_sequence");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261207003757_ApprovalLifecycle', '10.0.15');

CREATE TABLE "webhook_attempts" (
    "id" INTEGER NOT NULL CONSTRAINT "PK_webhook_attempts" PRIMARY KEY AUTOINCREMENT,
    "delivery_id" INTEGER NOT NULL,
    "attempt_time" INTEGER NOT NULL,
    "status_code" INTEGER NOT NULL,
    "error" TEXT NOT NULL,
    "duration_ms" INTEGER NOT NULL
);

CREATE TABLE "webhook_cursors" (
    "source" TEXT NOT NULL CONSTRAINT "PK_webhook_cursors" PRIMARY KEY,
    "position" INTEGER NOT NULL
);

CREATE TABLE "webhook_deliveries" (
    "id" INTEGER NOT NULL CONSTRAINT "PK_webhook_deliveries" PRIMARY KEY AUTOINCREMENT,
    "subscription_id" TEXT NOT NULL,
    "event_id" INTEGER NOT NULL,
    "delivered" INTEGER NOT NULL,
    "attempts" INTEGER NOT NULL,
    "next_attempt_time" INTEGER NOT NULL,
    "delivered_time" INTEGER NULL
);

CREATE TABLE "webhook_events" (
    "id" INTEGER NOT NULL CONSTRAINT "PK_webhook_events" PRIMARY KEY AUTOINCREMENT,
    "event_key" TEXT NOT NULL,
    "type" INTEGER NOT NULL,
    "country" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "occur_time" INTEGER NOT NULL
);

CREATE TABLE "webhook_subscriptions" (
    "id" TEXT NOT NULL CONSTRAINT "PK_webhook_subscriptions" PRIMARY KEY,
    "owner" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "event_types" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_time" INTEGER NOT NULL,
    "consecutive_failures" INTEGER NOT NULL,
    "last_success_time" INTEGER NULL,
    "last_failure_time" INTEGER NULL,
    "last_error" TEXT NOT NULL
);

CREATE INDEX "IX_webhook_attempts_delivery_id_id" ON "webhook_attempts" ("delivery_id", "id");

CREATE INDEX "IX_webhook_deliveries_subscription_id_delivered_id" ON "webhook_deliveries" ("subscription_id", "delivered", "id");

CREATE UNIQUE INDEX "IX_webhook_deliveries_subscription_id_event_id" ON "webhook_deliveries" ("subscription_id", "event_id");

CREATE UNIQUE INDEX "IX_webhook_events_event_key" ON "webhook_events" ("event_key");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261207032751_Webhooks', '10.0.15');

ALTER TABLE "log_heads" ADD "suppression_method" INTEGER NOT NULL DEFAULT 3;

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261207064552_SuppressionMethod', '10.0.15');

CREATE INDEX "IX_withheld_changes_received_time" ON "withheld_changes" ("received_time");

CREATE INDEX "IX_observations_received_time" ON "observations" ("received_time");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261207080555_ReceivedTimeIndexes', '10.0.15');

ALTER TABLE "lifecycle_entries" ADD "country" TEXT NOT NULL DEFAULT '';

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261207125310_DecisionLog', '10.0.15');

ALTER TABLE "lifecycle_entries" ADD "reason_hash" BLOB NULL;

ALTER TABLE "lifecycle_entries" ADD "reason_salt" BLOB NULL;

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261207161951_CommittedReasons', '10.0.15');

ALTER TABLE "withheld_changes" ADD "draft_sharing" INTEGER NOT NULL DEFAULT 0;

ALTER TABLE "observations" ADD "draft_sharing" INTEGER NOT NULL DEFAULT 0;

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261207225329_SignedDraftHold', '10.0.15');

