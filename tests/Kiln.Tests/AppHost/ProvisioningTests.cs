using Kiln.AppHost.Launching;
using Kiln.AppHost.Provisioning;

namespace Kiln.Tests.AppHost;

public sealed class ProvisioningTests
{
    [Fact]
    public async Task Without_a_way_to_install_one_message_names_each_missing_piece_and_the_command()
    {
        var provisioner = new MachineProvisioner(new ConsoleSink(echo: false), canInstall: false);
        var error = await Assert.ThrowsAsync<ProvisioningException>(() => provisioner.EnsureAsync(
        [
            new Prerequisite("a server that is not here", () => false, ["kiln-test-server"]),
            new Prerequisite("a library that is not here", () => false, ["kiln-test-lib", "kiln-test-lib-dev"]),
            new Prerequisite("something present", () => true, ["present"]),
        ], CancellationToken.None));

        Assert.Contains("a server that is not here", error.Message, StringComparison.Ordinal);
        Assert.Contains("a library that is not here", error.Message, StringComparison.Ordinal);
        Assert.Contains("sudo apt-get install -y kiln-test-server kiln-test-lib kiln-test-lib-dev", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("present", error.Message.Replace("not here", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings__", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nothing_is_installed_when_nothing_is_missing() =>
        await new MachineProvisioner(new ConsoleSink(echo: false), canInstall: false)
            .EnsureAsync([new Prerequisite("present", () => true, ["present"])], CancellationToken.None);
}
