using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Node.Store.PostgresMigrations
{
    /// <inheritdoc />
    public partial class ReceivedTimeIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_withheld_changes_received_time",
                table: "withheld_changes",
                column: "received_time");

            migrationBuilder.CreateIndex(
                name: "IX_observations_received_time",
                table: "observations",
                column: "received_time");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_withheld_changes_received_time",
                table: "withheld_changes");

            migrationBuilder.DropIndex(
                name: "IX_observations_received_time",
                table: "observations");
        }
    }
}
