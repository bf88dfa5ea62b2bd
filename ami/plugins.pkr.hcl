# Plugin requirements, kept apart from the template: `packer init ami/` reads this file.
# Packer 1.7+ needs it (the amazon builder is a plugin there); Packer 1.6 (Debian's package,
# used by the offline test) predates `required_plugins`, so the test validates ollama.pkr.hcl
# on its own, where the amazon builder is still built in.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = "~> 1.3"
    }
  }
}
