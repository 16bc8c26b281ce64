using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.Migrations
{
    /// <inheritdoc />
    public partial class InitialStore : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "observations",
                columns: table => new
                {
                    origin = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    origin_sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    indicator_code = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    country = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    period = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    sex = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    age = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    country_of_origin = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    period_start = table.Column<DateOnly>(type: "TEXT", nullable: false),
                    period_end = table.Column<DateOnly>(type: "TEXT", nullable: false),
                    revision = table.Column<long>(type: "INTEGER", nullable: false),
                    value = table.Column<double>(type: "REAL", nullable: true),
                    status = table.Column<int>(type: "INTEGER", nullable: false),
                    note = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    deleted = table.Column<bool>(type: "INTEGER", nullable: false),
                    recorded_time = table.Column<long>(type: "INTEGER", nullable: false),
                    superseded_time = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_observations", x => new { x.origin, x.origin_sequence });
                });

            migrationBuilder.CreateTable(
                name: "requests",
                columns: table => new
                {
                    request_id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    operation = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    request_digest = table.Column<byte[]>(type: "BLOB", nullable: false),
                    response = table.Column<byte[]>(type: "BLOB", nullable: false),
                    recorded_time = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_requests", x => x.request_id);
                });

            migrationBuilder.CreateIndex(
                name: "ux_observations_key_revision",
                table: "observations",
                columns: new[] { "indicator_code", "country", "period", "sex", "age", "country_of_origin", "revision" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_requests_recorded_time",
                table: "requests",
                column: "recorded_time");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "observations");

            migrationBuilder.DropTable(
                name: "requests");
        }
    }
}
