using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace MirpsExchange.Identity.Store.Migrations
{
    /// <inheritdoc />
    public partial class LogKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "log_keys",
                columns: table => new
                {
                    KeyId = table.Column<string>(type: "TEXT", maxLength: 43, nullable: false),
                    Country = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    PublicKey = table.Column<byte[]>(type: "BLOB", maxLength: 200, nullable: false),
                    RegisterTime = table.Column<long>(type: "INTEGER", nullable: false),
                    RetireTime = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_log_keys", x => x.KeyId);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "log_keys");
        }
    }
}
