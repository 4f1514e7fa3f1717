using Kiln.Web.Api;
using Kiln.Web.Components;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddKilnApiClient();
builder.Services.AddRazorComponents();

var app = builder.Build();

app.UseStaticFiles();
app.UseAntiforgery();
app.MapDefaultEndpoints();
app.MapRazorComponents<App>();

app.Run();
