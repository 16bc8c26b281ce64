using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Identity.Store.Migrations
{
    /// <inheritdoc />
    public partial class CredentialApprove : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "Approve",
                table: "credentials",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Approve",
                table: "credentials");
        }
    }
}
