using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Identity.Store.Migrations
{
    /// <inheritdoc />
    public partial class CredentialTokenCutoff : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "TokenCutoffTime",
                table: "credentials",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_credentials_TokenCutoffTime",
                table: "credentials",
                column: "TokenCutoffTime");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_credentials_TokenCutoffTime",
                table: "credentials");

            migrationBuilder.DropColumn(
                name: "TokenCutoffTime",
                table: "credentials");
        }
    }
}
