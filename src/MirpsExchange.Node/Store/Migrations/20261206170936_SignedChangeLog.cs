using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.Migrations
{
    /// <inheritdoc />
    public partial class SignedChangeLog : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<byte[]>(
                name: "change_hash",
                table: "withheld_changes",
                type: "BLOB",
                nullable: true);

            migrationBuilder.AddColumn<byte[]>(
                name: "content_digest",
                table: "withheld_changes",
                type: "BLOB",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "received_time",
                table: "withheld_changes",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<byte[]>(
                name: "change_hash",
                table: "observations",
                type: "BLOB",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "received_time",
                table: "observations",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<byte[]>(
                name: "salt",
                table: "observations",
                type: "BLOB",
                nullable: true);

            migrationBuilder.AddColumn<byte[]>(
                name: "value_digest",
                table: "observations",
                type: "BLOB",
                nullable: true);

            // History from before: each node received it when it was recorded, as far as anyone can tell now.
            migrationBuilder.Sql("UPDATE observations SET received_time = recorded_time;");
            migrationBuilder.Sql("UPDATE withheld_changes SET received_time = recorded_time;");

            migrationBuilder.CreateTable(
                name: "log_heads",
                columns: table => new
                {
                    origin = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    kind = table.Column<int>(type: "INTEGER", nullable: false),
                    hash = table.Column<byte[]>(type: "BLOB", nullable: false),
                    key_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    signature = table.Column<byte[]>(type: "BLOB", nullable: false),
                    signed_time = table.Column<long>(type: "INTEGER", nullable: false),
                    next_public_key = table.Column<byte[]>(type: "BLOB", nullable: true),
                    received_time = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_log_heads", x => new { x.origin, x.sequence, x.kind });
                });

            migrationBuilder.CreateIndex(
                name: "IX_log_heads_origin_received_time",
                table: "log_heads",
                columns: new[] { "origin", "received_time" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "log_heads");

            migrationBuilder.DropColumn(
                name: "change_hash",
                table: "withheld_changes");

            migrationBuilder.DropColumn(
                name: "content_digest",
                table: "withheld_changes");

            migrationBuilder.DropColumn(
                name: "received_time",
                table: "withheld_changes");

            migrationBuilder.DropColumn(
                name: "change_hash",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "received_time",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "salt",
                table: "observations");

            migrationBuilder.DropColumn(
                name: "value_digest",
                table: "observations");
        }
    }
}
