using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace MirpsExchange.Node.Store.PostgresMigrations
{
    /// <inheritdoc />
    public partial class InitialStore : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "acceptances",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    country = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    group_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    period = table.Column<string>(type: "character varying(7)", maxLength: 7, nullable: false, collation: "C"),
                    entry_sequence = table.Column<long>(type: "bigint", nullable: false),
                    accepted = table.Column<bool>(type: "boolean", nullable: false),
                    reason = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false, collation: "C"),
                    actor = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false, collation: "C"),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_acceptances", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "catalogue_versions",
                columns: table => new
                {
                    holder = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    seen_time = table.Column<long>(type: "bigint", nullable: false),
                    version = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false, collation: "C")
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_catalogue_versions", x => new { x.holder, x.seen_time });
                });

            migrationBuilder.CreateTable(
                name: "lifecycle_entries",
                columns: table => new
                {
                    origin = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    entry_sequence = table.Column<long>(type: "bigint", nullable: false),
                    previous_hash = table.Column<byte[]>(type: "bytea", nullable: true),
                    group_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    period = table.Column<string>(type: "character varying(7)", maxLength: 7, nullable: false, collation: "C"),
                    action = table.Column<int>(type: "integer", nullable: false),
                    log_sequence = table.Column<long>(type: "bigint", nullable: false),
                    log_hash = table.Column<byte[]>(type: "bytea", nullable: true),
                    reason = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false, collation: "C"),
                    actor = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false, collation: "C"),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false),
                    key_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    signature = table.Column<byte[]>(type: "bytea", nullable: false),
                    entry_hash = table.Column<byte[]>(type: "bytea", nullable: false),
                    received_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_lifecycle_entries", x => new { x.origin, x.entry_sequence });
                });

            migrationBuilder.CreateTable(
                name: "log_heads",
                columns: table => new
                {
                    origin = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    sequence = table.Column<long>(type: "bigint", nullable: false),
                    kind = table.Column<int>(type: "integer", nullable: false),
                    hash = table.Column<byte[]>(type: "bytea", nullable: false),
                    key_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    signature = table.Column<byte[]>(type: "bytea", nullable: false),
                    signed_time = table.Column<long>(type: "bigint", nullable: false),
                    next_public_key = table.Column<byte[]>(type: "bytea", nullable: true),
                    received_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_log_heads", x => new { x.origin, x.sequence, x.kind });
                });

            migrationBuilder.CreateTable(
                name: "observations",
                columns: table => new
                {
                    origin = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    origin_sequence = table.Column<long>(type: "bigint", nullable: false),
                    indicator_code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    country = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    period = table.Column<string>(type: "character varying(7)", maxLength: 7, nullable: false, collation: "C"),
                    sex = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false, collation: "C"),
                    age = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false, collation: "C"),
                    country_of_origin = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false, collation: "C"),
                    application_type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, collation: "C"),
                    decision_level = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, collation: "C"),
                    procedure_type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, collation: "C"),
                    count_basis = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, collation: "C"),
                    country_of_destination = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false, collation: "C"),
                    period_start = table.Column<DateOnly>(type: "date", nullable: false),
                    period_end = table.Column<DateOnly>(type: "date", nullable: false),
                    revision = table.Column<long>(type: "bigint", nullable: false),
                    value = table.Column<double>(type: "double precision", nullable: true),
                    status = table.Column<int>(type: "integer", nullable: false),
                    note = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false, collation: "C"),
                    lower_bound = table.Column<bool>(type: "boolean", nullable: false),
                    confidentiality = table.Column<int>(type: "integer", nullable: false),
                    synthetic = table.Column<bool>(type: "boolean", nullable: false),
                    deleted = table.Column<bool>(type: "boolean", nullable: false),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false),
                    superseded_time = table.Column<long>(type: "bigint", nullable: true),
                    readers = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    release_time = table.Column<long>(type: "bigint", nullable: true),
                    small_count_threshold = table.Column<int>(type: "integer", nullable: false),
                    value_withheld = table.Column<bool>(type: "boolean", nullable: false),
                    salt = table.Column<byte[]>(type: "bytea", nullable: true),
                    value_digest = table.Column<byte[]>(type: "bytea", nullable: true),
                    change_hash = table.Column<byte[]>(type: "bytea", nullable: true),
                    received_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_observations", x => new { x.origin, x.origin_sequence });
                });

            migrationBuilder.CreateTable(
                name: "requests",
                columns: table => new
                {
                    request_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false, collation: "C"),
                    operation = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    request_digest = table.Column<byte[]>(type: "bytea", nullable: false),
                    response = table.Column<byte[]>(type: "bytea", nullable: false),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_requests", x => x.request_id);
                });

            migrationBuilder.CreateTable(
                name: "webhook_attempts",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    delivery_id = table.Column<long>(type: "bigint", nullable: false),
                    attempt_time = table.Column<long>(type: "bigint", nullable: false),
                    status_code = table.Column<int>(type: "integer", nullable: false),
                    error = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: false, collation: "C"),
                    duration_ms = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_webhook_attempts", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "webhook_cursors",
                columns: table => new
                {
                    source = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    position = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_webhook_cursors", x => x.source);
                });

            migrationBuilder.CreateTable(
                name: "webhook_deliveries",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    subscription_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false, collation: "C"),
                    event_id = table.Column<long>(type: "bigint", nullable: false),
                    delivered = table.Column<bool>(type: "boolean", nullable: false),
                    attempts = table.Column<int>(type: "integer", nullable: false),
                    next_attempt_time = table.Column<long>(type: "bigint", nullable: false),
                    delivered_time = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_webhook_deliveries", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "webhook_events",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    event_key = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false, collation: "C"),
                    type = table.Column<int>(type: "integer", nullable: false),
                    country = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    body = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    occur_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_webhook_events", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "webhook_subscriptions",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false, collation: "C"),
                    owner = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    url = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false, collation: "C"),
                    event_types = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false, collation: "C"),
                    description = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false, collation: "C"),
                    created_by = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false, collation: "C"),
                    created_time = table.Column<long>(type: "bigint", nullable: false),
                    consecutive_failures = table.Column<int>(type: "integer", nullable: false),
                    last_success_time = table.Column<long>(type: "bigint", nullable: true),
                    last_failure_time = table.Column<long>(type: "bigint", nullable: true),
                    last_error = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: false, collation: "C")
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_webhook_subscriptions", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "withheld_changes",
                columns: table => new
                {
                    origin = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false, collation: "C"),
                    origin_sequence = table.Column<long>(type: "bigint", nullable: false),
                    reason = table.Column<int>(type: "integer", nullable: false),
                    recorded_time = table.Column<long>(type: "bigint", nullable: false),
                    readers = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C"),
                    release_time = table.Column<long>(type: "bigint", nullable: true),
                    small_count_threshold = table.Column<int>(type: "integer", nullable: false),
                    content_digest = table.Column<byte[]>(type: "bytea", nullable: true),
                    change_hash = table.Column<byte[]>(type: "bytea", nullable: true),
                    received_time = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_withheld_changes", x => new { x.origin, x.origin_sequence });
                });

            migrationBuilder.CreateIndex(
                name: "IX_acceptances_country_group_id_period_id",
                table: "acceptances",
                columns: new[] { "country", "group_id", "period", "id" });

            migrationBuilder.CreateIndex(
                name: "IX_lifecycle_entries_origin_group_id_period_entry_sequence",
                table: "lifecycle_entries",
                columns: new[] { "origin", "group_id", "period", "entry_sequence" });

            migrationBuilder.CreateIndex(
                name: "IX_log_heads_origin_received_time",
                table: "log_heads",
                columns: new[] { "origin", "received_time" });

            migrationBuilder.CreateIndex(
                name: "ux_observations_key_revision",
                table: "observations",
                columns: new[] { "indicator_code", "country", "period", "sex", "age", "country_of_origin", "application_type", "decision_level", "procedure_type", "count_basis", "country_of_destination", "revision" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_requests_recorded_time",
                table: "requests",
                column: "recorded_time");

            migrationBuilder.CreateIndex(
                name: "IX_webhook_attempts_delivery_id_id",
                table: "webhook_attempts",
                columns: new[] { "delivery_id", "id" });

            migrationBuilder.CreateIndex(
                name: "IX_webhook_deliveries_subscription_id_delivered_id",
                table: "webhook_deliveries",
                columns: new[] { "subscription_id", "delivered", "id" });

            migrationBuilder.CreateIndex(
                name: "IX_webhook_deliveries_subscription_id_event_id",
                table: "webhook_deliveries",
                columns: new[] { "subscription_id", "event_id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_webhook_events_event_key",
                table: "webhook_events",
                column: "event_key",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "acceptances");

            migrationBuilder.DropTable(
                name: "catalogue_versions");

            migrationBuilder.DropTable(
                name: "lifecycle_entries");

            migrationBuilder.DropTable(
                name: "log_heads");

            migrationBuilder.DropTable(
                name: "observations");

            migrationBuilder.DropTable(
                name: "requests");

            migrationBuilder.DropTable(
                name: "webhook_attempts");

            migrationBuilder.DropTable(
                name: "webhook_cursors");

            migrationBuilder.DropTable(
                name: "webhook_deliveries");

            migrationBuilder.DropTable(
                name: "webhook_events");

            migrationBuilder.DropTable(
                name: "webhook_subscriptions");

            migrationBuilder.DropTable(
                name: "withheld_changes");
        }
    }
}
