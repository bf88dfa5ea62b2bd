# Baked AMI for the Ollama instances: Ubuntu LTS with Ollama, the stack's default models, the
# pinned Open WebUI image, the CloudWatch agent and hardened sshd already on disk, so a new
# instance serves after minutes instead of first downloading gigabytes of model weights.
#
#   packer init ami/
#   packer build -var environment=dev -var 'models=["llama3.2:1b"]' ami/
#
# The AMI is named ollama-ami-<env>-<UTC timestamp> and tagged like every stack resource
# (Project, Environment, ManagedBy, Service). Point compute.ami_id at it to use it; the boot
# script still reads the model catalog and pulls only what the image lacks.
#
# EBS warming: a volume created from an AMI snapshot fetches each block from S3 the first
# time it is read, so the first load of a multi-GB model can take minutes. Two remedies:
#   1. ollama-ebs-warm.service (installed below) reads every model blob once at boot, with
#      large sequential reads, before Ollama starts; the boot health check then sees a fast
#      model load. It costs boot time proportional to the model size, but only once.
#   2. EBS fast snapshot restore on the AMI's snapshot in each AZ of the ASG: volumes are
#      fully initialised at creation, at an hourly price per snapshot and AZ (production only).

variable "environment" {
  type        = string
  description = "Stack the AMI is built for: dev, staging or production (part of the AMI name)."
  default     = "dev"

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "The environment must be dev, staging or production (the stack names)."
  }
}

variable "aws_region" {
  type        = string
  description = "Region to build in and register the AMI."
  default     = "us-east-1"
}

variable "instance_type" {
  type        = string
  description = "Build instance type (CPU is enough: the build only downloads and installs)."
  default     = "m7i.large"
}

variable "volume_size_gb" {
  type        = number
  description = "Root volume size in GiB; room for the OS, the Open WebUI image and the models."
  default     = 60
}

variable "ubuntu_release" {
  type        = string
  description = "Ubuntu LTS image name part, e.g. noble-24.04 (Canonical's AMI naming)."
  default     = "noble-24.04"
}

variable "ollama_install_method" {
  type        = string
  description = "script (official install script pinned to ollama_version) or snap."
  default     = "script"
}

variable "ollama_version" {
  type        = string
  description = "Pinned Ollama version (ollama.version in the stack file)."
  default     = "0.32.15"

  validation {
    condition     = regex_replace(var.ollama_version, "^[0-9]+[.][0-9]+[.][0-9]+$", "") == ""
    error_message = "The ollama_version must be an exact version such as 0.32.15, never latest."
  }
}

variable "models" {
  type        = list(string)
  description = "Models to pre-pull (the stack's ollama.models / catalog defaults)."
  default     = ["llama3.2:1b"]
}

variable "models_dir" {
  type        = string
  description = "OLLAMA_MODELS directory (ollama.models_dir in the stack file)."
  default     = "/var/lib/ollama/models"
}

variable "webui_image" {
  type        = string
  description = "Open WebUI image pinned by tag (webui.image:webui.version), pre-pulled into Docker."
  default     = "ghcr.io/open-webui/open-webui:v0.9.6"

  validation {
    condition     = regex_replace(var.webui_image, "^[^:]+:v?[0-9][0-9A-Za-z._-]*(@sha256:[a-f0-9]{64})?$", "") == ""
    error_message = "The webui_image must be pinned to a version tag (never main or latest)."
  }
}

variable "cloudwatch_agent_url" {
  type        = string
  description = "CloudWatch agent package for Ubuntu amd64 (use a versioned path to pin it)."
  default     = "https://amazoncloudwatch-agent.s3.amazonaws.com/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb"
}

variable "cloudwatch_agent_min_version" {
  type        = string
  description = "Oldest CloudWatch agent accepted: the version the agent config was checked against (ollama_infra/versions.py)."
  default     = "1.300071.0"
}

locals {
  # formatdate keeps the name sortable and free of the ':' that AMI names do not allow.
  timestamp = formatdate("YYYYMMDDhhmmss", timestamp())
  ami_name  = "ollama-ami-${var.environment}-${local.timestamp}"
  tags = {
    Project       = "ollama"
    Environment   = var.environment
    ManagedBy     = "packer"
    Service       = "compute"
    Name          = "ollama-ami-${var.environment}"
    OllamaVersion = var.ollama_version
    WebUIImage    = var.webui_image
    SourceAMI     = "{{ .SourceAMI }}"
  }
  model_args = join(" ", [for m in var.models : "--model ${m}"])
}

source "amazon-ebs" "ollama" {
  region          = var.aws_region
  instance_type   = var.instance_type
  ami_name        = local.ami_name
  ami_description = "Ollama ${var.ollama_version} + Open WebUI for the ${var.environment} stack"

  source_ami_filter {
    owners      = ["099720109477"] # Canonical
    most_recent = true
    filters = {
      name                = "ubuntu/images/hvm-ssd-gp3/ubuntu-${var.ubuntu_release}-amd64-server-*"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
  }

  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = var.volume_size_gb
    volume_type           = "gp3"
    iops                  = 3000 # gp3 baseline, stated explicitly (Packer 1.6 requires both)
    throughput            = 125
    encrypted             = true
    delete_on_termination = true
  }
  encrypt_boot = true

  # The build instance gets a temporary key and security group from Packer; it needs
  # outbound internet (default VPC or a subnet with a NAT) to fetch Ollama and the models.
  ssh_username                = "ubuntu"
  associate_public_ip_address = true
  ssh_timeout                 = "15m"

  tags            = local.tags
  run_tags        = local.tags
  run_volume_tags = local.tags
  snapshot_tags   = local.tags
}

build {
  sources = ["source.amazon-ebs.ollama"]

  # Let cloud-init finish (apt sources, ssh host keys) before touching packages.
  provisioner "shell" {
    inline = [
      "cloud-init status --wait > /dev/null",
      "sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq",
      "sudo DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade",
      "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io curl jq fio zstd pciutils nginx openssl",
      "sudo systemctl enable docker",
      # nginx is the TLS proxy of edge.backend_tls: the boot configures and starts it with a
      # certificate made on each instance, never baked into the image. Off until then.
      "sudo rm -f /etc/nginx/sites-enabled/default",
      "sudo systemctl disable --now nginx",
    ]
  }

  # Ollama and the models, through the same script the instances run at boot.
  provisioner "shell" {
    script          = "${path.root}/../scripts/ollama-install.sh"
    execute_command = "chmod +x {{ .Path }}; sudo -E bash {{ .Path }} --method ${var.ollama_install_method} --version ${var.ollama_version} --models-dir ${var.models_dir} ${local.model_args}"
  }

  # The Open WebUI image, pinned by tag, so the first boot does not pull it.
  provisioner "shell" {
    inline = ["sudo docker pull ${var.webui_image}"]
  }

  # CloudWatch agent: installed here, configured at boot from /ollama/<env>/cloudwatch-agent/config.
  provisioner "shell" {
    inline = [
      "curl -fsSL -o /tmp/amazon-cloudwatch-agent.deb ${var.cloudwatch_agent_url}",
      "sudo dpkg -i -E /tmp/amazon-cloudwatch-agent.deb",
      "rm -f /tmp/amazon-cloudwatch-agent.deb",
      "v=$(cat /opt/aws/amazon-cloudwatch-agent/bin/CWAGENT_VERSION); test \"$(printf '%s\\n' \"$v\" ${var.cloudwatch_agent_min_version} | sort -V | head -n 1)\" = ${var.cloudwatch_agent_min_version} || { echo \"CloudWatch agent $v is older than ${var.cloudwatch_agent_min_version}\" >&2; exit 1; }",
    ]
  }

  # sshd: keys only, no root, no forwarding. SSM Session Manager is the default access path.
  provisioner "shell" {
    inline = [
      "printf '%s\\n' 'PermitRootLogin no' 'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'PubkeyAuthentication yes' 'X11Forwarding no' 'AllowAgentForwarding no' 'AllowTcpForwarding no' 'MaxAuthTries 3' 'LoginGraceTime 30' | sudo tee /etc/ssh/sshd_config.d/60-ollama-hardening.conf > /dev/null",
      "sudo sshd -t",
    ]
  }

  # EBS warming at boot (see the note at the top): read every model blob once before Ollama.
  provisioner "shell" {
    inline = [
      "printf '%s\\n' '[Unit]' 'Description=Read the Ollama model blobs once so EBS lazy loading does not slow the first model load' 'Before=ollama.service' 'After=local-fs.target' '' '[Service]' 'Type=oneshot' 'TimeoutStartSec=30min' 'ExecStart=/bin/sh -c \"find ${var.models_dir}/blobs -type f -exec fio --name=warm --rw=read --bs=1M --iodepth=32 --ioengine=libaio --direct=1 --readonly --filename={} \\\\; > /dev/null\"' '' '[Install]' 'WantedBy=multi-user.target' | sudo tee /etc/systemd/system/ollama-ebs-warm.service > /dev/null",
      "sudo systemctl daemon-reload",
      "sudo systemctl enable ollama-ebs-warm.service",
    ]
  }

  # Leave no build identity behind: new machine id, host keys and cloud-init state per instance.
  provisioner "shell" {
    inline = [
      "sudo cloud-init clean --logs",
      "sudo rm -f /etc/ssh/ssh_host_*",
      "sudo truncate -s 0 /etc/machine-id",
      "sudo apt-get clean",
    ]
  }

  post-processor "manifest" {
    output     = "build/ami-manifest-${var.environment}.json"
    strip_path = true
  }
}
